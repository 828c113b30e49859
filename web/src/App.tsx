/**
 * The chat page: conversations kept in this browser (store.ts), a model picker from the `models`
 * query (prices, and models cooling down after failures), and one `chatCompletionStream` per
 * answer through `useChatStream`. A turn whose model calls `get_weather` runs the page's demo
 * tool (or takes the result the person types), sends it back and streams the follow-up. A reload
 * mid-answer resumes the same generation by its key.
 *
 * With AUTH_MODE, the person enters an API key or token in the settings (credential.ts); `viewer`
 * then says who the page is signed in as and what is left of its limits and spend.
 */
import { useApolloClient } from '@apollo/client/react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';

import {
  buildInput,
  type Conversation,
  newConversation,
  newRound,
  type Round,
  type Settings,
  titleOf,
  totalsOf,
  type Turn,
  type UserTurn,
} from './conversation.js';
import type { Credential } from './credential.js';
import { type CredentialState, describeFailure, describeModelsFailure, describeTransportFailure, type Failure } from './failures.js';
import { count, duration, money, price } from './format.js';
import type { AuthMode, ModelsQuery as ModelsResult, ViewerQuery as ViewerResult } from './gql/graphql.js';
import { ModelsQuery, ViewerQuery } from './operations.js';
import {
  type ConversationSummary,
  currentId as storedCurrentId,
  deleteConversation,
  listConversations,
  loadConversation,
  rememberCurrent,
  saveConversation,
} from './store.js';
import { canRun, runTool } from './tools.js';
import { type ChatStream, type ChatStreamState, useChatStream } from './useChatStream.js';
import { Sidebar } from './components/Sidebar.js';
import { type TurnActions, TurnView } from './components/TurnView.js';

type Model = Extract<ModelsResult['models'], { __typename: 'ModelList' }>['models'][number];
type Viewer = Extract<ViewerResult['viewer'], { __typename: 'Viewer' }>;

/** Larger images are refused: every later turn sends them again as part of the history. */
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
/** Models that cannot chat, or that the mock upstream uses to show failures: not preselected. */
const NOT_A_CHAT_MODEL = /^fail-|embed|whisper|tts|dall-e|moderation|-bench$/i;
/** Tool rounds one turn may take before the page stops sending results back. */
const MAX_TOOL_ROUNDS = 4;
/** How often a streaming answer is written to IndexedDB (its key and last `seq` with it). */
const SNAPSHOT_MS = 400;

const newId = () => crypto.randomUUID();

type Theme = 'system' | 'light' | 'dark';
const THEME_KEY = 'chatql.theme';

function storedTheme(): Theme {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return value === 'light' || value === 'dark' ? value : 'system';
  } catch {
    return 'system';
  }
}

function withRound(conversation: Conversation, turnId: string, index: number, patch: Partial<Round>): Conversation {
  return {
    ...conversation,
    updatedAt: Date.now(),
    turns: conversation.turns.map((turn) =>
      turn.id !== turnId ? turn : { ...turn, rounds: turn.rounds.map((round, i) => (i === index ? { ...round, ...patch } : round)) },
    ),
  };
}

/** The round being written: where `useChatStream`'s answer goes when it ends. */
interface Target {
  conversationId: string;
  turnId: string;
  roundIndex: number;
  /** A generation attached to after a reload: a NotFoundError means it is no longer kept. */
  resumed: boolean;
}

function modelLabel(model: Model, now: number): string {
  const parts = [model.id];
  if (model.pricing) {
    const { inputPerMillionTokens, outputPerMillionTokens, currency } = model.pricing;
    parts.push(`${price(inputPerMillionTokens, currency)} / ${price(outputPerMillionTokens, currency)} per 1M tokens`);
  }
  const until = model.unavailableUntil ? Date.parse(model.unavailableUntil) : Number.NaN;
  if (until > now) parts.push(`cooling down, ${duration((until - now) / 1000)}`);
  return parts.join(' · ');
}

export function App({ credential }: { credential: Credential }) {
  const client = useApolloClient();

  // ---------- settings ----------
  const [model, setModel] = useState('');
  const [system, setSystem] = useState('');
  const [temperature, setTemperature] = useState('');
  const [maxTokens, setMaxTokens] = useState('');
  const [offerWeatherTool, setOfferWeatherTool] = useState(false);
  const [typeToolResults, setTypeToolResults] = useState(false);
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const settingsRef = useRef<HTMLDetailsElement>(null);
  const credentialField = useRef<HTMLInputElement>(null);
  const promptRef = useRef<HTMLTextAreaElement>(null);
  const logRef = useRef<HTMLElement>(null);

  /** Takes the person to the credential field: the message saying why is already on screen. */
  const pointToCredential = useCallback(() => {
    // Folded settings (a narrow screen) open, and are laid out before focus moves in.
    const details = settingsRef.current;
    if (details) {
      details.open = true;
      void details.offsetHeight;
    }
    credentialField.current?.focus();
  }, []);

  const readSettings = useCallback((): Settings => {
    const numberOf = (text: string) => (text.trim() === '' || Number.isNaN(Number(text)) ? null : Number(text));
    const tokens = numberOf(maxTokens);
    return { model, system, temperature: numberOf(temperature), maxTokens: tokens === null ? null : Math.round(tokens), offerWeatherTool };
  }, [model, system, temperature, maxTokens, offerWeatherTool]);
  const settings = useRef(readSettings);
  settings.current = readSettings;

  useEffect(() => {
    const root = document.documentElement;
    if (theme === 'system') delete root.dataset.theme;
    else root.dataset.theme = theme;
    try {
      if (theme === 'system') localStorage.removeItem(THEME_KEY);
      else localStorage.setItem(THEME_KEY, theme);
    } catch {
      // Not kept: the theme holds for this page's lifetime.
    }
  }, [theme]);

  // Settings sit beside the chat on wide screens and fold away above it on narrow ones.
  useEffect(() => {
    const wide = matchMedia('(min-width: 56rem)');
    const place = () => {
      if (settingsRef.current) settingsRef.current.open = wide.matches;
    };
    place();
    wide.addEventListener('change', place);
    return () => wide.removeEventListener('change', place);
  }, []);

  // ---------- credential and viewer ----------
  const [credentialText, setCredentialText] = useState(credential.value ?? '');
  const [remember, setRemember] = useState(credential.remembered);
  const [authMode, setAuthMode] = useState<AuthMode | null>(null);
  const [viewerWho, setViewerWho] = useState('');
  const [viewerLeft, setViewerLeft] = useState('');
  const viewerLoad = useRef(0);
  const credentialState = useCallback(
    (): CredentialState => ({ present: credential.value !== null, forwarded: authMode === 'FORWARD' }),
    [credential, authMode],
  );

  const loadViewer = useCallback(async () => {
    const load = ++viewerLoad.current;
    if (credential.value === null) {
      setAuthMode(null);
      setViewerWho('');
      setViewerLeft('');
      return;
    }
    const result = await client.query({ query: ViewerQuery, fetchPolicy: 'no-cache' }).catch(() => null);
    if (load !== viewerLoad.current) return;
    const viewer = result?.data?.viewer;
    if (!viewer) {
      setViewerWho('');
      setViewerLeft('');
      return;
    }
    if (viewer.__typename !== 'Viewer') {
      // AuthenticationError: the models query, asked at the same time, says what to do.
      setAuthMode(null);
      setViewerWho('Not signed in: the credential was refused.');
      setViewerLeft('');
      return;
    }
    setAuthMode(viewer.authMode);
    if (viewer.authMode === 'NONE') {
      setViewerWho('This service does not ask for a credential.');
      setViewerLeft('');
      return;
    }
    setViewerWho(`Signed in as ${viewer.clientId}.`);
    setViewerLeft(describeLimits(viewer));
  }, [client, credential]);

  // ---------- models ----------
  const [models, setModels] = useState<Model[] | null>(null);
  const [modelsFailure, setModelsFailure] = useState<Failure | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const modelsLoad = useRef(0);
  const loadModels = useCallback(async () => {
    const load = ++modelsLoad.current;
    setModelsFailure(null);
    let failure: Failure | null = null;
    let list: Model[] = [];
    try {
      const result = await client.query({ query: ModelsQuery, fetchPolicy: 'no-cache' });
      const answer = result.data?.models;
      if (answer?.__typename === 'ModelList') list = answer.models;
      else if (answer) failure = describeModelsFailure(answer, credentialState());
      else if (result.error) failure = describeTransportFailure(result.error, credentialState());
    } catch (error) {
      failure = describeTransportFailure(error, credentialState());
    }
    if (load !== modelsLoad.current) return;
    if (!failure && list.length === 0) failure = { title: 'No models', advice: 'The upstream lists no models.', action: { kind: 'retry' } };
    if (failure) {
      setModels(null);
      setModelsFailure(failure);
      if (failure.action.kind === 'credential') pointToCredential();
      return;
    }
    setModels(list);
    // Loaded again (a new credential, a failure), the model picked before stays picked if offered.
    setModel((previous) =>
      list.some((entry) => entry.id === previous)
        ? previous
        : (list.find((entry) => !NOT_A_CHAT_MODEL.test(entry.id))?.id ?? list[0]?.id ?? ''),
    );
  }, [client, credentialState, pointToCredential]);

  // A clock for the cooling-down models, ticking only while one is.
  const cooling = models?.some((entry) => entry.unavailableUntil && Date.parse(entry.unavailableUntil) > now) ?? false;
  useEffect(() => {
    if (!cooling) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [cooling]);

  // ---------- conversations ----------
  const [conversation, setConversationState] = useState<Conversation>(() => newConversation(newId()));
  const conversationRef = useRef(conversation);
  const [summaries, setSummaries] = useState<ConversationSummary[]>([]);
  const [lockedUntil, setLockedUntil] = useState(0);
  const target = useRef<Target | null>(null);
  // The stream, for the callbacks made before it (its `start` and `stop` are stable).
  const streamRef = useRef<ChatStream | null>(null);

  const refreshList = useCallback(() => {
    void listConversations().then(setSummaries);
  }, []);

  /** The conversation from now on; kept in IndexedDB once it has a turn. */
  const setConversation = useCallback(
    (next: Conversation) => {
      conversationRef.current = next;
      setConversationState(next);
      if (next.turns.length > 0) void saveConversation(next).then(refreshList);
    },
    [refreshList],
  );

  const startRound = useCallback(
    (base: Conversation, turnIndex: number, roundIndex: number) => {
      const turn = base.turns[turnIndex];
      if (!turn) return;
      const input = buildInput(settings.current(), base.turns, turnIndex, roundIndex);
      const round: Round = { ...newRound(), input, lastSeq: 0 };
      const rounds = [...turn.rounds.slice(0, roundIndex), round];
      const next: Conversation = {
        ...base,
        updatedAt: Date.now(),
        turns: base.turns.map((candidate, index) => (index === turnIndex ? { ...candidate, rounds } : candidate)),
      };
      setConversation(next);
      target.current = { conversationId: next.id, turnId: turn.id, roundIndex, resumed: false };
      streamRef.current?.start(input);
    },
    [setConversation],
  );

  const onFinish = useCallback(
    (state: ChatStreamState) => {
      const where = target.current;
      target.current = null;
      const current = conversationRef.current;
      if (!where || where.conversationId !== current.id) return;
      const patch: Partial<Round> = { input: null, key: null, lastSeq: 0, message: state.message, usage: state.usage, cost: state.cost };
      if (state.stopped) patch.status = 'stopped';
      else if (state.error) {
        const { error } = state;
        if (error.kind === 'typed' && error.error.__typename === 'NotFoundError' && where.resumed) patch.status = 'interrupted';
        else {
          patch.status = 'failed';
          patch.failedAt = Date.now();
          patch.failure =
            error.kind === 'typed'
              ? describeFailure(error.error, credentialState())
              : describeTransportFailure(error.error, credentialState());
          if (patch.failure.action.kind === 'wait') setLockedUntil(Date.now() + patch.failure.action.seconds * 1000);
          if (patch.failure.action.kind === 'credential') pointToCredential();
        }
        // A failing model may now be cooling down: the picker says so.
        void loadModels();
      } else {
        patch.status = 'done';
        patch.finishReason = state.finishReason;
      }
      let next = withRound(current, where.turnId, where.roundIndex, patch);
      const turnIndex = next.turns.findIndex((turn) => turn.id === where.turnId);
      const calls = state.message.toolCalls;
      const toolLoop = patch.status === 'done' && state.finishReason === 'TOOL_CALLS' && calls.length > 0 && !typeToolResultsRef.current;
      if (toolLoop && where.roundIndex + 1 < MAX_TOOL_ROUNDS && calls.every(canRun)) {
        // The demo tool runs, its results go back, and the model's follow-up streams.
        const toolResults = calls.map((call) => ({ callId: call.id, content: runTool(call), source: 'demo' as const }));
        next = withRound(next, where.turnId, where.roundIndex, { toolResults });
        startRound(next, turnIndex, where.roundIndex + 1);
        return;
      }
      setConversation(next);
      if (authModeRef.current !== null && authModeRef.current !== 'NONE') void loadViewer();
    },
    [credentialState, loadModels, loadViewer, setConversation, startRound, pointToCredential],
  );

  const stream = useChatStream({ onFinish });
  streamRef.current = stream;
  const streaming = stream.status === 'streaming';
  const typeToolResultsRef = useRef(typeToolResults);
  typeToolResultsRef.current = typeToolResults;
  const authModeRef = useRef(authMode);
  authModeRef.current = authMode;

  // While an answer streams, what has come (up to `lastSeq`) and its key go to IndexedDB, so that
  // a reload resumes the generation where the page left it.
  const lastSnapshot = useRef(0);
  useEffect(() => {
    const where = target.current;
    if (!streaming || !where || !stream.key) return;
    const write = () => {
      lastSnapshot.current = performance.now();
      const current = conversationRef.current;
      if (where.conversationId !== current.id || target.current !== where) return;
      void saveConversation(
        withRound(current, where.turnId, where.roundIndex, { key: stream.key, lastSeq: stream.lastSeq, message: stream.message }),
      );
    };
    const wait = SNAPSHOT_MS - (performance.now() - lastSnapshot.current);
    // The key at once (a reload right after Send resumes from the start); the text every SNAPSHOT_MS.
    if (stream.lastSeq === 0 || wait <= 0) {
      write();
      return;
    }
    const timer = setTimeout(write, wait);
    return () => clearTimeout(timer);
  }, [streaming, stream.key, stream.lastSeq, stream.message]);

  /** Opens a conversation; a turn that was streaming when the page went away is resumed by its key. */
  const open = useCallback(
    (loaded: Conversation) => {
      conversationRef.current = loaded;
      setConversationState(loaded);
      rememberCurrent(loaded.id);
      const turnIndex = loaded.turns.length - 1;
      const turn = loaded.turns[turnIndex];
      const roundIndex = (turn?.rounds.length ?? 0) - 1;
      const round = turn?.rounds[roundIndex];
      if (!turn || !round || round.status !== 'streaming') return;
      if (!round.key || !round.input) {
        setConversation(withRound(loaded, turn.id, roundIndex, { status: 'interrupted', input: null }));
        return;
      }
      target.current = { conversationId: loaded.id, turnId: turn.id, roundIndex, resumed: true };
      streamRef.current?.start(round.input, { resume: { key: round.key, after: round.lastSeq ?? 0, message: round.message } });
    },
    [setConversation],
  );

  // First load: the models, who is signed in, and the conversation open last time.
  // biome-ignore lint/correctness/useExhaustiveDependencies: once, on mount
  useEffect(() => {
    void loadModels();
    void loadViewer();
    let cancelled = false;
    void (async () => {
      const list = await listConversations();
      if (cancelled) return;
      setSummaries(list);
      const id = storedCurrentId();
      const loaded = id ? await loadConversation(id) : null;
      if (!cancelled && loaded) open(loaded);
    })();
    return () => {
      cancelled = true;
    };
  }, []);

  // ---------- actions ----------
  const locked = now < lockedUntil;
  useEffect(() => {
    if (lockedUntil <= Date.now()) return;
    const timer = setTimeout(() => setNow(Date.now()), lockedUntil - Date.now() + 10);
    return () => clearTimeout(timer);
  }, [lockedUntil]);
  const canSend = !streaming && !locked && models !== null && model !== '';

  const send = useCallback(
    (user: UserTurn) => {
      if (!canSend) return;
      const base = conversationRef.current;
      const turn: Turn = { id: newId(), user, rounds: [] };
      const next: Conversation = {
        ...base,
        title: base.renamed || base.turns.length > 0 ? base.title : titleOf(user),
        turns: [...base.turns, turn],
      };
      rememberCurrent(next.id);
      startRound(next, next.turns.length - 1, 0);
      requestAnimationFrame(() => {
        if (logRef.current) logRef.current.scrollTop = logRef.current.scrollHeight;
      });
    },
    [canSend, startRound],
  );

  const stop = useCallback(() => {
    if (stream.status === 'streaming') stream.stop();
    promptRef.current?.focus();
  }, [stream]);

  const actions: TurnActions = useMemo(
    () => ({
      onRetry: (turnId, roundIndex) => {
        if (streaming) return;
        const base = conversationRef.current;
        const turnIndex = base.turns.findIndex((turn) => turn.id === turnId);
        if (turnIndex >= 0) startRound(base, turnIndex, roundIndex);
      },
      onRegenerate: () => {
        if (streaming) return;
        const base = conversationRef.current;
        if (base.turns.length > 0) startRound(base, base.turns.length - 1, 0);
      },
      onEdit: (turnId, text) => {
        if (streaming) return;
        const base = conversationRef.current;
        const turnIndex = base.turns.findIndex((turn) => turn.id === turnId);
        const turn = base.turns[turnIndex];
        if (!turn) return;
        // Resent from there: the turns after it are dropped.
        const edited: Turn = { ...turn, user: { ...turn.user, text }, rounds: [] };
        const next = { ...base, turns: [...base.turns.slice(0, turnIndex), edited] };
        startRound(next, turnIndex, 0);
      },
      onToolResult: (turnId, roundIndex, callId, content) => {
        if (streaming) return;
        const base = conversationRef.current;
        const turnIndex = base.turns.findIndex((turn) => turn.id === turnId);
        const round = base.turns[turnIndex]?.rounds[roundIndex];
        if (!round) return;
        const toolResults = [
          ...round.toolResults.filter((result) => result.callId !== callId),
          { callId, content, source: 'typed' as const },
        ];
        const next = withRound(base, turnId, roundIndex, { toolResults });
        // Once every call has its result, the model's follow-up streams.
        if (round.message.toolCalls.every((call) => toolResults.some((result) => result.callId === call.id))) {
          startRound(next, turnIndex, roundIndex + 1);
        } else {
          setConversation(next);
        }
      },
      onStop: stop,
      onCredential: pointToCredential,
    }),
    [streaming, startRound, setConversation, stop, pointToCredential],
  );

  const newChat = useCallback(() => {
    if (streaming) stream.stop();
    const fresh = newConversation(newId());
    conversationRef.current = fresh;
    setConversationState(fresh);
    rememberCurrent(fresh.id);
    setLockedUntil(0);
    promptRef.current?.focus();
  }, [streaming, stream]);

  const openConversation = useCallback(
    async (id: string) => {
      if (id === conversationRef.current.id) return;
      if (streaming) stream.stop();
      const loaded = await loadConversation(id);
      if (loaded) open(loaded);
    },
    [streaming, stream, open],
  );

  const renameConversation = useCallback(
    async (id: string, title: string) => {
      const current = conversationRef.current;
      if (id === current.id) setConversation({ ...current, title, renamed: true });
      else {
        const loaded = await loadConversation(id);
        if (loaded) await saveConversation({ ...loaded, title, renamed: true });
        refreshList();
      }
    },
    [setConversation, refreshList],
  );

  const removeConversation = useCallback(
    async (id: string) => {
      if (id === conversationRef.current.id) newChat();
      await deleteConversation(id);
      refreshList();
    },
    [newChat, refreshList],
  );

  // ---------- credential actions ----------
  const applyCredential = (change: () => void) => {
    stop();
    change();
    setCredentialText(credential.value ?? '');
    setRemember(credential.remembered);
    void loadViewer();
    void loadModels();
  };
  const saveCredential = () => {
    if (credentialText.trim() === '') applyCredential(() => credential.forget());
    else applyCredential(() => credential.save(credentialText, remember));
  };

  // ---------- composer ----------
  const [attachment, setAttachment] = useState<{ url: string; name: string } | null>(null);
  const [attachmentError, setAttachmentError] = useState('');
  const [draft, setDraft] = useState('');
  const submit = () => {
    const text = draft.trim();
    if ((!text && !attachment) || !canSend) return;
    send({ text, imageUrl: attachment?.url });
    setDraft('');
    setAttachment(null);
  };

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && stream.status === 'streaming') {
        event.preventDefault();
        stop();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [stream.status, stop]);

  // The log follows the answer down while the person has not scrolled up.
  const stick = useRef(true);
  useEffect(() => {
    const log = logRef.current;
    if (log && stick.current) log.scrollTop = log.scrollHeight;
  });

  const totals = totalsOf(conversation);
  const totalsText =
    totals.tokens > 0
      ? `This chat: ${count(totals.tokens)} tokens${totals.cost ? ` · ${money(totals.cost.amount, totals.cost.currency)}` : ''}`
      : null;
  const chatModels = models?.filter((entry) => !entry.id.startsWith('fail-')) ?? [];
  const failureModels = models?.filter((entry) => entry.id.startsWith('fail-')) ?? [];
  const selected = models?.find((entry) => entry.id === model) ?? null;
  const lastTurnId = conversation.turns.at(-1)?.id;

  return (
    <div className="app">
      <header className="topbar">
        <h1>ChatQL</h1>
        <p className="tagline">Chat over GraphQL, streamed token by token</p>
        <div className="theme">
          <label htmlFor="theme">Theme</label>
          <select id="theme" value={theme} onChange={(event) => setTheme(event.target.value as Theme)}>
            <option value="system">System</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </div>
        <nav aria-label="Tools">
          <a href="/graphql">GraphiQL</a>
        </nav>
      </header>

      <details className="settings" id="settings" ref={settingsRef} open>
        <summary>
          Settings <span className="settings-model">{models && model ? `· ${model}` : ''}</span>
        </summary>
        <Sidebar
          conversations={summaries}
          currentId={conversation.id}
          totals={totalsText}
          onOpen={(id) => void openConversation(id)}
          onNew={newChat}
          onRename={(id, title) => void renameConversation(id, title)}
          onDelete={(id) => void removeConversation(id)}
        />
        <form className="settings-form" aria-label="Settings" onSubmit={(event) => event.preventDefault()}>
          <div className="field">
            <label htmlFor="model">Model</label>
            <select
              id="model"
              name="model"
              disabled={models === null}
              aria-describedby="model-status model-info"
              value={models === null ? '' : model}
              onChange={(event) => setModel(event.target.value)}
            >
              {models === null ? (
                <option value="">{modelsFailure ? 'No model available' : 'Loading models…'}</option>
              ) : failureModels.length > 0 ? (
                <>
                  <optgroup label="Models">
                    {chatModels.map((entry) => (
                      <option key={entry.id} value={entry.id}>
                        {modelLabel(entry, now)}
                      </option>
                    ))}
                  </optgroup>
                  <optgroup label="Failure demos">
                    {failureModels.map((entry) => (
                      <option key={entry.id} value={entry.id}>
                        {modelLabel(entry, now)}
                      </option>
                    ))}
                  </optgroup>
                </>
              ) : (
                chatModels.map((entry) => (
                  <option key={entry.id} value={entry.id}>
                    {modelLabel(entry, now)}
                  </option>
                ))
              )}
            </select>
            <div className="model-status" id="model-status" role="status">
              {models === null && !modelsFailure ? 'Loading models…' : null}
              {modelsFailure ? (
                <>
                  {`${modelsFailure.title}: ${modelsFailure.advice} `}
                  {modelsFailure.action.kind === 'credential' ? (
                    <button type="button" className="secondary small" onClick={pointToCredential}>
                      Enter API key or token
                    </button>
                  ) : (
                    <button type="button" className="secondary small" onClick={() => void loadModels()}>
                      Retry
                    </button>
                  )}
                </>
              ) : null}
            </div>
            <p className="model-info" id="model-info">
              {selected ? describeModel(selected, now) : ''}
            </p>
          </div>
          <div className="field">
            <label htmlFor="system">System prompt</label>
            <textarea
              id="system"
              name="system"
              rows={4}
              placeholder="Instructions for the model, e.g. “You are a concise assistant.”"
              value={system}
              onChange={(event) => setSystem(event.target.value)}
            />
          </div>
          <div className="field-row">
            <div className="field">
              <label htmlFor="temperature">Temperature</label>
              <input
                id="temperature"
                name="temperature"
                type="number"
                min="0"
                max="2"
                step="0.1"
                inputMode="decimal"
                placeholder="default"
                value={temperature}
                onChange={(event) => setTemperature(event.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="max-tokens">Max tokens</label>
              <input
                id="max-tokens"
                name="maxTokens"
                type="number"
                min="1"
                step="1"
                inputMode="numeric"
                placeholder="default"
                value={maxTokens}
                onChange={(event) => setMaxTokens(event.target.value)}
              />
            </div>
          </div>
          <div className="field checkbox">
            <input
              id="weather-tool"
              name="weatherTool"
              type="checkbox"
              checked={offerWeatherTool}
              onChange={(event) => setOfferWeatherTool(event.target.checked)}
            />
            <label htmlFor="weather-tool">
              Offer the model a <code>get_weather</code> tool
            </label>
          </div>
          <div className="field checkbox">
            <input
              id="type-tool-results"
              name="typeToolResults"
              type="checkbox"
              checked={typeToolResults}
              disabled={!offerWeatherTool}
              onChange={(event) => setTypeToolResults(event.target.checked)}
              aria-describedby="tool-note"
            />
            <label htmlFor="type-tool-results">Type tool results myself</label>
          </div>
          <p className="hint" id="tool-note">
            Otherwise the page runs a demo <code>get_weather</code> that makes up the weather, and sends its result back to the model.
          </p>
          <div className="field credential">
            <label htmlFor="credential">API key or token</label>
            <input
              id="credential"
              ref={credentialField}
              name="credential"
              type="password"
              autoComplete="off"
              autoCapitalize="off"
              spellCheck={false}
              placeholder="Only if this service asks for one"
              aria-describedby="credential-note viewer-status"
              value={credentialText}
              onChange={(event) => setCredentialText(event.target.value)}
              onKeyDown={(event) => {
                if (event.key === 'Enter' && !event.nativeEvent.isComposing) {
                  event.preventDefault();
                  saveCredential();
                }
              }}
            />
            <div className="credential-actions">
              <button type="button" className="secondary small" id="credential-save" onClick={saveCredential}>
                Save
              </button>
              <button
                type="button"
                className="secondary small"
                id="credential-forget"
                disabled={credential.value === null && credentialText === ''}
                onClick={() => applyCredential(() => credential.forget())}
              >
                Forget
              </button>
            </div>
            <div className="field checkbox">
              <input
                id="credential-remember"
                name="credentialRemember"
                type="checkbox"
                checked={remember}
                onChange={(event) => {
                  // A saved credential moves to the other storage at once; a new one goes there on Save.
                  credential.keepIn(event.target.checked);
                  setRemember(event.target.checked);
                }}
              />
              <label htmlFor="credential-remember">Remember on this device</label>
            </div>
            <p className="hint" id="credential-note">
              {remember
                ? "Kept in this browser's local storage until you Forget it; sent only to this service, never in a URL."
                : "Kept in this tab's session storage until the tab closes; sent only to this service, never in a URL."}
            </p>
            <p className="viewer-status" id="viewer-status">
              <span id="viewer-who" role="status">
                {viewerWho}
              </span>{' '}
              <span id="viewer-left">{viewerLeft}</span>
            </p>
          </div>
        </form>
      </details>

      <main className="chat">
        <section
          className="log"
          id="log"
          ref={logRef}
          role="log"
          aria-live="polite"
          aria-busy={streaming}
          aria-label="Conversation"
          tabIndex={-1}
          onScroll={(event) => {
            const log = event.currentTarget;
            stick.current = log.scrollHeight - log.scrollTop - log.clientHeight < 48;
          }}
        >
          {conversation.turns.length === 0 ? (
            <p className="empty" id="empty">
              Send a message to start. The answer streams in as the model writes it; earlier turns are sent along, so you can follow up.
              Chats are kept in this browser.
            </p>
          ) : (
            conversation.turns.map((turn) => (
              <TurnView
                key={turn.id}
                turn={turn}
                live={streaming && target.current?.turnId === turn.id ? stream : null}
                latest={turn.id === lastTurnId}
                busy={streaming}
                typeToolResults={typeToolResults}
                actions={actions}
              />
            ))
          )}
        </section>

        <form
          className="composer"
          id="composer"
          aria-label="New message"
          onSubmit={(event) => {
            event.preventDefault();
            submit();
          }}
        >
          <div className="attachment" id="attachment" hidden={attachment === null}>
            <img
              id="attachment-preview"
              alt={attachment ? `Preview of ${attachment.name}` : ''}
              width={48}
              height={48}
              src={attachment?.url}
            />
            <span id="attachment-name">{attachment?.name ?? ''}</span>
            <button
              type="button"
              className="secondary small"
              id="remove-image"
              onClick={() => {
                setAttachment(null);
                promptRef.current?.focus();
              }}
            >
              Remove image
            </button>
          </div>
          <div className="attachment-error" id="attachment-error" role="alert">
            {attachmentError}
          </div>
          <label htmlFor="prompt" className="visually-hidden">
            Message
          </label>
          <textarea
            id="prompt"
            ref={promptRef}
            name="prompt"
            rows={2}
            placeholder="Message"
            aria-describedby="prompt-hint"
            autoFocus
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
                event.preventDefault();
                submit();
              }
            }}
          />
          <div className="composer-bar">
            <p className="hint" id="prompt-hint">
              Enter sends, Shift+Enter adds a line, Esc stops.
            </p>
            <label className="button secondary attach">
              <input
                id="image"
                type="file"
                accept="image/*"
                className="visually-hidden"
                onChange={(event) => {
                  const file = event.target.files?.[0];
                  event.target.value = '';
                  setAttachmentError('');
                  if (!file) return;
                  if (!file.type.startsWith('image/')) {
                    setAttachmentError(`${file.name} is not an image: choose a PNG, JPEG, GIF or WebP file.`);
                    return;
                  }
                  if (file.size > MAX_IMAGE_BYTES) {
                    setAttachmentError(`${file.name} is ${(file.size / 1024 / 1024).toFixed(1)} MB: attach an image of 5 MB at most.`);
                    return;
                  }
                  const reader = new FileReader();
                  reader.addEventListener('load', () => setAttachment({ url: String(reader.result), name: file.name }));
                  reader.addEventListener('error', () => setAttachmentError(`${file.name} could not be read.`));
                  // A data: URI goes to the API as an image content part; no upload service is needed.
                  reader.readAsDataURL(file);
                }}
              />
              Attach image
            </label>
            <button type="button" className="secondary" id="stop" disabled={!streaming} onClick={stop}>
              Stop
            </button>
            <button type="submit" id="send" disabled={!canSend}>
              Send
            </button>
          </div>
        </form>
      </main>
    </div>
  );
}

/** The picked model's prices and state, under the picker. */
function describeModel(model: Model, now: number): string {
  const parts: string[] = [];
  if (model.pricing) {
    const { inputPerMillionTokens, outputPerMillionTokens, cachedInputPerMillionTokens, currency } = model.pricing;
    parts.push(
      `${price(inputPerMillionTokens, currency)} in, ${price(outputPerMillionTokens, currency)} out${
        cachedInputPerMillionTokens === null ? '' : `, ${price(cachedInputPerMillionTokens, currency)} cached`
      } per million tokens.`,
    );
  }
  const until = model.unavailableUntil ? Date.parse(model.unavailableUntil) : Number.NaN;
  if (until > now) parts.push(`Cooling down after failures: tried again in ${duration((until - now) / 1000)}.`);
  return parts.join(' ');
}

function describeLimits(viewer: Viewer): string {
  const { requestsPerMinute, dailyTokens, dailySpend } = viewer.limits;
  return [
    requestsPerMinute ? `${count(requestsPerMinute.remaining)} of ${count(requestsPerMinute.limit)} requests left this minute` : null,
    dailyTokens ? `${count(dailyTokens.remaining)} of ${count(dailyTokens.limit)} tokens left today` : null,
    dailySpend ? `${money(dailySpend.remaining, dailySpend.currency)} of ${money(dailySpend.limit, dailySpend.currency)} left today` : null,
  ]
    .filter((part) => part !== null)
    .join(' · ');
}
