/**
 * Replaces every header value an endpoint echoed back, so excerpts never carry a secret: whole
 * values, and the long words inside them (the token of "Bearer <token>").
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  const needles = new Set<string>();
  for (const s of secrets) {
    if (s.length >= 4) needles.add(s);
    for (const word of s.split(/[\s,;]+/)) if (word.length >= 8) needles.add(word);
  }
  let out = text;
  // Longest first, so a whole value is replaced before the words inside it.
  for (const n of [...needles].sort((a, b) => b.length - a.length)) out = out.split(n).join('[redacted]');
  return out;
}
