import type { Seccomp } from '../runtime/runtime-spec.js';

/**
 * The seccomp filter of every sandboxed build, in the shape container engines give
 * runc: an allowlist, anything else refused with EPERM.
 *
 * What a build may not do, and so is not on the list: load kernel code or filters
 * (init_module, kexec_*, bpf), mount or change namespaces (mount, the new mount API,
 * pivot_root, unshare, setns, clone with a CLONE_NEW* flag), look into other processes
 * (ptrace, process_vm_*, kcmp, pidfd_getfd), reach the kernel's keyrings, set the
 * clock, reboot, swap, account, trace (perf_event_open, lookup_dcookie, fanotify),
 * open files by handle (the "shocker" escape), fault pages in from user space
 * (userfaultfd, a race-exploit primitive) and io_uring (a large, often-exploited
 * surface with its own path to every file operation). clone3 answers ENOSYS, so C
 * libraries fall back to clone, whose flags the filter can see.
 */

/** Everything a compiler, a package manager and a test suite use, as the kernel names them. */
const ALLOWED: readonly string[] = [
  // files and directories
  'access', 'chdir', 'chmod', 'chown', 'close', 'close_range', 'copy_file_range', 'creat', 'dup', 'dup2', 'dup3',
  'faccessat', 'faccessat2', 'fadvise64', 'fallocate', 'fchdir', 'fchmod', 'fchmodat', 'fchown', 'fchownat', 'fcntl',
  'fdatasync', 'flock', 'fstat', 'fstatfs', 'fsync', 'ftruncate', 'futimesat', 'getcwd', 'getdents', 'getdents64',
  'lchown', 'link', 'linkat', 'lseek', 'lstat', 'mkdir', 'mkdirat', 'mknod', 'mknodat', 'newfstatat', 'open', 'openat',
  'openat2', 'pread64', 'preadv', 'preadv2', 'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead', 'readlink',
  'readlinkat', 'readv', 'rename', 'renameat', 'renameat2', 'rmdir', 'sendfile', 'splice', 'stat', 'statfs', 'statx',
  'symlink', 'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'tee', 'truncate', 'umask', 'unlink', 'unlinkat', 'utime',
  'utimensat', 'utimes', 'vmsplice', 'write', 'writev',
  // extended attributes (file capabilities, ACLs, SELinux labels in images)
  'fgetxattr', 'flistxattr', 'fremovexattr', 'fsetxattr', 'getxattr', 'lgetxattr', 'listxattr', 'llistxattr',
  'lremovexattr', 'lsetxattr', 'removexattr', 'setxattr',
  // watching files, events, polling
  'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_pwait', 'epoll_pwait2', 'epoll_wait', 'eventfd', 'eventfd2',
  'inotify_add_watch', 'inotify_init', 'inotify_init1', 'inotify_rm_watch', 'poll', 'ppoll', 'pselect6', 'select',
  'signalfd', 'signalfd4', 'timerfd_create', 'timerfd_gettime', 'timerfd_settime',
  // memory
  'brk', 'get_mempolicy', 'madvise', 'mbind', 'membarrier', 'memfd_create', 'mincore', 'mlock', 'mlock2', 'mlockall',
  'mmap', 'mprotect', 'mremap', 'msync', 'munlock', 'munlockall', 'munmap', 'pkey_alloc', 'pkey_free', 'pkey_mprotect',
  'remap_file_pages', 'set_mempolicy', 'set_mempolicy_home_node',
  // processes, threads, scheduling
  'arch_prctl', 'capget', 'capset', 'execve', 'execveat', 'exit', 'exit_group', 'fork', 'futex', 'futex_waitv',
  'get_robust_list', 'get_thread_area', 'getcpu', 'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrlimit',
  'getrusage', 'getsid', 'gettid', 'ioprio_get', 'ioprio_set', 'modify_ldt', 'pidfd_open', 'pidfd_send_signal', 'prctl',
  'prlimit64', 'restart_syscall', 'rseq', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_getaffinity',
  'sched_getattr', 'sched_getparam', 'sched_getscheduler', 'sched_rr_get_interval', 'sched_setaffinity', 'sched_setattr',
  'sched_setparam', 'sched_setscheduler', 'sched_yield', 'seccomp', 'set_robust_list', 'set_thread_area',
  'set_tid_address', 'setpgid', 'setpriority', 'setrlimit', 'setsid', 'times', 'vfork', 'wait4', 'waitid',
  'landlock_add_rule', 'landlock_create_ruleset', 'landlock_restrict_self',
  // signals
  'alarm', 'getitimer', 'kill', 'pause', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo',
  'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait', 'rt_tgsigqueueinfo', 'setitimer', 'sigaltstack', 'tgkill', 'tkill',
  // identity (within what the process's capabilities allow)
  'getegid', 'geteuid', 'getgid', 'getgroups', 'getresgid', 'getresuid', 'getuid', 'setfsgid', 'setfsuid', 'setgid',
  'setgroups', 'setregid', 'setresgid', 'setresuid', 'setreuid', 'setuid',
  // time
  'clock_getres', 'clock_gettime', 'clock_nanosleep', 'gettimeofday', 'nanosleep', 'time', 'timer_create', 'timer_delete',
  'timer_getoverrun', 'timer_gettime', 'timer_settime',
  // sockets (raw and packet sockets still need CAP_NET_RAW, which no build has)
  'accept', 'accept4', 'bind', 'connect', 'getpeername', 'getsockname', 'getsockopt', 'listen', 'recvfrom', 'recvmmsg',
  'recvmsg', 'sendmmsg', 'sendmsg', 'sendto', 'setsockopt', 'shutdown', 'socket', 'socketpair',
  // pipes, System V and POSIX IPC (the container has its own IPC namespace)
  'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedsend',
  'mq_unlink', 'pipe', 'pipe2', 'semctl', 'semget', 'semop', 'semtimedop', 'shmat', 'shmctl', 'shmdt', 'shmget',
  // asynchronous I/O (the old interface; io_uring is left out)
  'io_cancel', 'io_destroy', 'io_getevents', 'io_pgetevents', 'io_setup', 'io_submit',
  // the rest of a normal process
  'getrandom', 'ioctl', 'sysinfo', 'uname',
  // 32-bit x86 and arm names of the same calls (32-bit binaries in an image)
  '_llseek', '_newselect', 'chown32', 'clock_gettime64', 'clock_nanosleep_time64', 'fadvise64_64', 'fchown32', 'fcntl64',
  'fstat64', 'fstatat64', 'fstatfs64', 'ftruncate64', 'futex_time64', 'getegid32', 'geteuid32', 'getgid32', 'getgroups32',
  'getresgid32', 'getresuid32', 'getuid32', 'ipc', 'lchown32', 'lstat64', 'mmap2', 'ppoll_time64', 'pselect6_time64',
  'recv', 'send', 'sendfile64', 'setfsgid32', 'setfsuid32', 'setgid32', 'setgroups32', 'setregid32', 'setresgid32',
  'setresuid32', 'setreuid32', 'setuid32', 'sigaction', 'signal', 'sigprocmask', 'sigreturn', 'sigsuspend', 'socketcall',
  'stat64', 'statfs64', 'truncate64', 'ugetrlimit', 'utimensat_time64', 'waitpid', 'arm_fadvise64_64',
  'arm_sync_file_range', 'breakpoint', 'cacheflush', 'set_tls', 'sync_file_range2',
];

const EPERM = 1;
const ENOSYS = 38;
/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME. */
const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080;
/** personality(2) values a build may set: PER_LINUX, UNAME26, PER_LINUX32 and their pair, and the query. */
const PERSONALITIES = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

/** The architectures of this machine's binaries (native and compat), as libseccomp names them. */
function architectures(arch: string = process.arch): string[] {
  if (arch === 'arm64') return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
  return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
}

/**
 * The build filter.
 *
 * @example
 *   runtime.run(image, { seccomp: buildSeccomp(), ... });
 */
export function buildSeccomp(): Seccomp {
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: architectures(),
    syscalls: [
      { names: [...ALLOWED], action: 'SCMP_ACT_ALLOW' },
      // The flags are the first argument on x86_64 and arm64 (and the second on s390x, not built for).
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
      ...PERSONALITIES.map((value) => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] })),
    ],
  };
}
