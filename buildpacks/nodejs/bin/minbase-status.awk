# The dpkg status of a minbase image, from a bigger one's: the paragraphs of the Priority:
# required and Essential packages and of everything they depend on (pass the status file twice).
BEGIN { RS = ""; FS = "\n" }
NR == FNR {
  if ($0 !~ /\nStatus: install ok installed/) next
  pkg = ""; deps = ""
  for (i = 1; i <= NF; i++) {
    if ($i ~ /^Package: /) pkg = substr($i, 10)
    else if ($i ~ /^(Pre-)?Depends: /) deps = deps "," substr($i, index($i, ":") + 2)
    else if ($i ~ /^Priority: required$/ || $i ~ /^Essential: yes$/) keep[pkg] = 1
  }
  dep[pkg] = deps; installed[pkg] = 1
  next
}
FNR == 1 {
  do {
    changed = 0
    for (p in keep) {
      n = split(dep[p], alts, /[,|]/)
      for (j = 1; j <= n; j++) {
        d = alts[j]; gsub(/\(.*\)|:any|[ \t]/, "", d)
        if (d in installed && !(d in keep)) { keep[d] = 1; changed = 1 }
      }
    }
  } while (changed)
}
{ for (i = 1; i <= NF; i++) if ($i ~ /^Package: /) { pkg = substr($i, 10); break } }
pkg in keep { printf "%s\n\n", $0 }
