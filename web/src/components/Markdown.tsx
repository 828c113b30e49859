/**
 * An answer's markdown, rendered safely: GitHub's extensions (tables, task lists, strikethrough,
 * autolinks) by remark-gfm; then rehype-sanitize with GitHub's own schema, so that nothing the
 * model writes can become a script, a style, an event handler or a frame (raw HTML in the
 * markdown is dropped: its tags never reach the page, only the words between them); then code highlighted by
 * class names (highlight.ts runs after sanitizing, and adds classes only, never `style`).
 *
 * Images are shown as links, never loaded: a model (or a page it read) could otherwise make the
 * browser fetch any URL, with the conversation in it. Links open in a new tab without a referrer.
 *
 * While an answer streams, only its last block is parsed again for each update: the text is cut
 * into blocks at blank lines outside code fences, and every finished block is memoised.
 */
import { memo, type ReactNode, useMemo, useState } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';
import rehypeSanitize from 'rehype-sanitize';
import remarkGfm from 'remark-gfm';

import { splitBlocks } from '../blocks.js';
import { rehypeHighlightCode } from '../highlight.js';

interface HastNode {
  type: string;
  value?: string;
  children?: HastNode[];
}

function textOf(node: HastNode | undefined): string {
  if (!node) return '';
  if (node.type === 'text') return node.value ?? '';
  return (node.children ?? []).map(textOf).join('');
}

function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="secondary small copy"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(
          () => {
            setCopied(true);
            setTimeout(() => setCopied(false), 1500);
          },
          () => undefined,
        );
      }}
    >
      {copied ? 'Copied' : label}
    </button>
  );
}

export { CopyButton };

const components: Components = {
  pre({ node, children }) {
    const code = textOf(node as HastNode | undefined).replace(/\n$/, '');
    return (
      <div className="code-block">
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard, to scroll a long line into view */}
        <pre tabIndex={0}>{children}</pre>
        <CopyButton text={code} label="Copy code" />
      </div>
    );
  },
  a({ href, children }) {
    return (
      <a href={href} target="_blank" rel="noopener noreferrer nofollow">
        {children}
      </a>
    );
  },
  input({ type, checked }) {
    // A task list's box: shown, not editable, and named for screen readers.
    if (type !== 'checkbox') return null;
    return <input type="checkbox" checked={Boolean(checked)} disabled aria-label={checked ? 'Done' : 'Not done'} />;
  },
  img({ src, alt }) {
    // Never loaded: shown as a link to what it points at.
    const url = typeof src === 'string' ? src : '';
    const name = alt || url || 'image';
    return url ? (
      <a className="image-link" href={url} target="_blank" rel="noopener noreferrer nofollow">
        [Image: {name}]
      </a>
    ) : (
      <span className="image-link">[Image: {name}]</span>
    );
  },
};

const remarkPlugins = [remarkGfm];
const rehypePlugins = [rehypeSanitize, rehypeHighlightCode];

const Block = memo(function Block({ text }: { text: string }) {
  return (
    <ReactMarkdown remarkPlugins={remarkPlugins} rehypePlugins={rehypePlugins} components={components}>
      {text}
    </ReactMarkdown>
  );
});

export function Markdown({ text, className }: { text: string; className?: string }): ReactNode {
  const blocks = useMemo(() => splitBlocks(text), [text]);
  return (
    <div className={className}>
      {blocks.map((block, index) => (
        // Blocks only grow at the end: an index is a stable key.
        // biome-ignore lint/suspicious/noArrayIndexKey: blocks are appended, never reordered
        <Block key={index} text={block} />
      ))}
    </div>
  );
}
