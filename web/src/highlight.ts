/**
 * Code highlighting for rendered answers: a rehype plugin that runs lowlight (highlight.js) on
 * fenced code with a language, after sanitizing, and adds `hljs-*` class names only (no `style`).
 *
 * rehype-highlight does the same, but always bundles highlight.js's 37 "common" languages; this
 * registers the languages answers mostly use, which keeps the page's JavaScript well inside its
 * budget. Code in another language is shown plain.
 */
import type { Element, Root, Text } from 'hast';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import { createLowlight } from 'lowlight';

const lowlight = createLowlight({ bash, c, cpp, css, diff, go, java, javascript, json, python, rust, sql, typescript, xml, yaml });
lowlight.registerAlias({
  bash: ['sh', 'shell', 'zsh'],
  javascript: ['js', 'jsx'],
  typescript: ['ts', 'tsx'],
  xml: ['html'],
  yaml: ['yml'],
});

function textOf(node: Element | Text): string {
  return node.type === 'text'
    ? node.value
    : node.children.map((child) => (child.type === 'text' || child.type === 'element' ? textOf(child) : '')).join('');
}

function visit(node: Root | Element, parent: Root | Element | null): void {
  if (node.type === 'element' && node.tagName === 'code' && parent?.type === 'element' && parent.tagName === 'pre') {
    const classes = Array.isArray(node.properties.className) ? node.properties.className.map(String) : [];
    const language = classes.find((name) => name.startsWith('language-'))?.slice('language-'.length);
    if (language && lowlight.registered(language)) {
      const tree = lowlight.highlight(language, textOf(node));
      node.properties.className = ['hljs', ...classes];
      node.children = tree.children as Element['children'];
    }
    return;
  }
  for (const child of node.children) if (child.type === 'element') visit(child, node);
}

/** The plugin: `rehypePlugins={[rehypeSanitize, rehypeHighlightCode]}`. */
export function rehypeHighlightCode() {
  return (tree: Root) => visit(tree, null);
}
