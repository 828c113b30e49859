/** Markdown cut into blocks, so that a streaming answer parses only its last block again. No DOM here. */

/**
 * Cuts markdown into blocks that render the same apart as together: at blank lines outside code
 * fences, unless a list goes on (the next line is an item, or indented: a loose list). A link
 * reference defined in one block and used in another is the one case this splits wrongly.
 */
export function splitBlocks(text: string): string[] {
  const lines = text.split('\n');
  const blocks: string[] = [];
  let current: string[] = [];
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker) {
      if (fence === null) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = null;
    }
    current.push(line);
    if (fence !== null || line.trim() !== '') continue;
    const next = lines.slice(i + 1).find((candidate) => candidate.trim() !== '');
    if (next === undefined) continue;
    // A list goes on past a blank line while the next line is an item or indented (a loose list).
    const inList = /^\s{0,3}([-*+]|\d+[.)])\s/.test(current.find((candidate) => candidate.trim() !== '') ?? '');
    if (inList && /^(\s|[-*+]\s|\d+[.)]\s)/.test(next)) continue;
    blocks.push(current.join('\n'));
    current = [];
  }
  if (current.length > 0) blocks.push(current.join('\n'));
  return blocks;
}
