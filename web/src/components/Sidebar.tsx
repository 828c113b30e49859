/**
 * The conversations kept in this browser, newest first: open one, start a new one, rename or
 * delete one. The open conversation's tokens and cost are shown under the list.
 */
import { useState } from 'react';

import type { ConversationSummary } from '../store.js';

interface Props {
  conversations: ConversationSummary[];
  currentId: string;
  totals: string | null;
  onOpen: (id: string) => void;
  onNew: () => void;
  onRename: (id: string, title: string) => void;
  onDelete: (id: string) => void;
}

function Entry({
  conversation,
  current,
  onOpen,
  onRename,
  onDelete,
}: {
  conversation: ConversationSummary;
  current: boolean;
  onOpen: () => void;
  onRename: (title: string) => void;
  onDelete: () => void;
}) {
  const [renaming, setRenaming] = useState<string | null>(null);
  if (renaming !== null) {
    return (
      <li className="conversation renaming">
        <form
          onSubmit={(event) => {
            event.preventDefault();
            if (renaming.trim()) onRename(renaming.trim());
            setRenaming(null);
          }}
        >
          <label htmlFor={`rename-${conversation.id}`} className="visually-hidden">
            New name for “{conversation.title}”
          </label>
          <input
            id={`rename-${conversation.id}`}
            value={renaming}
            autoFocus
            onChange={(event) => setRenaming(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === 'Escape') {
                event.stopPropagation();
                setRenaming(null);
              }
            }}
          />
          <button type="submit" className="small">
            Save name
          </button>
        </form>
      </li>
    );
  }
  return (
    <li className={`conversation${current ? ' current' : ''}`}>
      <button type="button" className="conversation-open" aria-current={current ? 'page' : undefined} onClick={onOpen}>
        {conversation.title}
      </button>
      <button
        type="button"
        className="secondary small icon"
        aria-label={`Rename “${conversation.title}”`}
        title="Rename"
        onClick={() => setRenaming(conversation.title)}
      >
        ✎
      </button>
      <button
        type="button"
        className="secondary small icon"
        aria-label={`Delete “${conversation.title}”`}
        title="Delete"
        onClick={onDelete}
      >
        ×
      </button>
    </li>
  );
}

export function Sidebar({ conversations, currentId, totals, onOpen, onNew, onRename, onDelete }: Props) {
  return (
    <nav className="conversations" aria-label="Conversations">
      <div className="conversations-head">
        <h2>Chats</h2>
        <button type="button" className="secondary" id="new-chat" onClick={onNew}>
          New chat
        </button>
      </div>
      {conversations.length === 0 ? (
        <p className="hint">Your chats are kept in this browser.</p>
      ) : (
        <ul className="conversation-list">
          {conversations.map((conversation) => (
            <Entry
              key={conversation.id}
              conversation={conversation}
              current={conversation.id === currentId}
              onOpen={() => onOpen(conversation.id)}
              onRename={(title) => onRename(conversation.id, title)}
              onDelete={() => onDelete(conversation.id)}
            />
          ))}
        </ul>
      )}
      {totals ? <p className="totals">{totals}</p> : null}
    </nav>
  );
}
