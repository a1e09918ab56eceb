import { createInterface } from 'node:readline';

/** True when questions can be asked: stdin is a terminal. */
export function interactive(): boolean {
  return process.stdin.isTTY === true;
}

/**
 * Asks on the terminal (stderr) and reads one line from stdin; `secret` echoes nothing
 * while it is typed. Resolves undefined at the end of stdin.
 */
export function ask(prompt: string, secret = false): Promise<string | undefined> {
  return new Promise((resolve) => {
    const terminal = process.stdin.isTTY === true;
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal });
    if (secret && terminal) {
      // Only the prompt is drawn; the typed characters are not.
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.includes(prompt)) process.stderr.write(prompt);
      };
    }
    let answered = false;
    rl.on('line', (line) => {
      answered = true;
      rl.close();
      if (secret && terminal) process.stderr.write('\n');
      resolve(line.replace(/\r$/, ''));
    });
    rl.on('close', () => {
      if (!answered) resolve(undefined);
    });
    if (terminal) process.stderr.write(prompt);
  });
}

/** All of stdin as text (for --password-stdin and piped passwords). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A yes/no question (`[yN]`: no unless the answer starts with y); no terminal and no line: no. */
export async function confirm(question: string): Promise<boolean> {
  const answer = await ask(`${question} [yN]: `);
  return /^y(es)?$/i.test((answer ?? '').trim());
}
