/**
 * Conversations kept in this browser, in IndexedDB (through `idb`), so that they survive a reload
 * and a closed browser. One object store, `conversations`, keyed by id, with an `updatedAt` index
 * for the sidebar's newest-first list. Nothing leaves the browser.
 *
 * Where IndexedDB is refused (some private modes, storage disabled), every call still resolves and
 * the page works for its lifetime: conversations are then kept in memory only.
 */
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';

import type { Conversation } from './conversation.js';

interface ChatDB extends DBSchema {
  conversations: { key: string; value: Conversation; indexes: { updatedAt: number } };
}

/** The sidebar's view of a conversation. */
export interface ConversationSummary {
  id: string;
  title: string;
  updatedAt: number;
}

const DB_NAME = 'chatql';
const DB_VERSION = 1;

let opening: Promise<IDBPDatabase<ChatDB> | null> | null = null;
const memory = new Map<string, Conversation>();

function db(): Promise<IDBPDatabase<ChatDB> | null> {
  opening ??= openDB<ChatDB>(DB_NAME, DB_VERSION, {
    upgrade(database) {
      const store = database.createObjectStore('conversations', { keyPath: 'id' });
      store.createIndex('updatedAt', 'updatedAt');
    },
  }).catch(() => null);
  return opening;
}

/** Every conversation, newest first. */
export async function listConversations(): Promise<ConversationSummary[]> {
  const database = await db();
  const all = database ? await database.getAllFromIndex('conversations', 'updatedAt') : [...memory.values()];
  return all.map(({ id, title, updatedAt }) => ({ id, title, updatedAt })).sort((a, b) => b.updatedAt - a.updatedAt);
}

export async function loadConversation(id: string): Promise<Conversation | null> {
  const database = await db();
  return (database ? await database.get('conversations', id) : memory.get(id)) ?? null;
}

export async function saveConversation(conversation: Conversation): Promise<void> {
  const database = await db();
  if (database) await database.put('conversations', conversation);
  else memory.set(conversation.id, structuredClone(conversation));
}

export async function deleteConversation(id: string): Promise<void> {
  const database = await db();
  if (database) await database.delete('conversations', id);
  else memory.delete(id);
}

/** Which conversation was open last: restored on the next visit. */
const CURRENT_KEY = 'chatql.conversation';

export function rememberCurrent(id: string | null): void {
  try {
    if (id === null) localStorage.removeItem(CURRENT_KEY);
    else localStorage.setItem(CURRENT_KEY, id);
  } catch {
    // Storage refused: the newest conversation opens instead.
  }
}

export function currentId(): string | null {
  try {
    return localStorage.getItem(CURRENT_KEY);
  } catch {
    return null;
  }
}
