/**
 * One turn on screen: the person's message (copy, edit and resend), then each round of the
 * assistant's answer: its reasoning, the rendered answer, a refusal, tool calls with their results
 * (run by the page's demo, or typed by the person), how it ended (finish reason, tokens and cost,
 * stopped, interrupted, or a failure card), copy and, for the last answer, regenerate.
 *
 * Finished turns are memoised: while an answer streams, only its own round renders again.
 */
import { memo, useEffect, useState } from 'react';

import { prettyArguments, type Round, type Turn } from '../conversation.js';
import { count, duration, money } from '../format.js';
import type { FinishReason } from '../gql/graphql.js';
import type { ChatStreamState } from '../useChatStream.js';
import { FailureCard } from './FailureCard.js';
import { CopyButton, Markdown } from './Markdown.js';

/** How a finish reason reads at the end of an answer. */
const FINISH_REASONS: Record<FinishReason, string> = {
  STOP: 'Done',
  LENGTH: 'Cut off at max tokens',
  TOOL_CALLS: 'The model called a tool',
  CONTENT_FILTER: 'Cut by the content filter',
  FUNCTION_CALL: 'The model called a function',
  OTHER: 'Done',
};

/** A model silent for this long is said to be slow, with Stop at hand. */
export const SLOW_AFTER_MS = 15_000;

export interface TurnActions {
  onRetry: (turnId: string, roundIndex: number) => void;
  onRegenerate: () => void;
  onEdit: (turnId: string, text: string) => void;
  onToolResult: (turnId: string, roundIndex: number, callId: string, content: string) => void;
  onStop: () => void;
  onCredential: () => void;
}

interface TurnProps {
  turn: Turn;
  /** The live stream, when this turn's last round is the one being written. */
  live: ChatStreamState | null;
  /** This is the latest turn: its failure may be retried, its answer regenerated. */
  latest: boolean;
  /** Another answer is being written: no edits or regenerates meanwhile. */
  busy: boolean;
  /** The person types tool results instead of the demo running them. */
  typeToolResults: boolean;
  actions: TurnActions;
}

function statusText(round: Round): string {
  switch (round.status) {
    case 'streaming':
      return round.key && round.lastSeq ? 'Resuming…' : 'Writing…';
    case 'stopped':
      return round.message.content || round.message.toolCalls.length > 0
        ? 'Stopped: the answer is cut short.'
        : 'Stopped before the answer began.';
    case 'interrupted':
      return 'Interrupted: the page went away before the answer ended, and the service no longer keeps it. Regenerate to ask again.';
    case 'failed':
      return '';
    case 'done': {
      const reason = round.finishReason;
      const parts = [reason ? `${FINISH_REASONS[reason]} · finish reason: ${reason.toLowerCase()}` : 'Done'];
      if (round.usage) parts.push(`tokens: ${count(round.usage.promptTokens)} prompt + ${count(round.usage.completionTokens)} completion`);
      if (round.cost) parts.push(`cost: ${money(round.cost.amount, round.cost.currency)}`);
      return parts.join(' · ');
    }
  }
}

/** The round being written, as the stream has it now. */
function liveRound(round: Round, live: ChatStreamState): Round {
  return { ...round, message: live.message, usage: live.usage, cost: live.cost };
}

function SlowNotice({ since, onStop }: { since: number; onStop: () => void }) {
  const [now, setNow] = useState(() => performance.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(performance.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const silent = now - since;
  if (silent < SLOW_AFTER_MS) return null;
  return (
    <p className="slow" role="status">
      The model is slow: no token for {duration(silent / 1000)}.{' '}
      <button type="button" className="secondary small" onClick={onStop}>
        Stop
      </button>
    </p>
  );
}

function ToolResultInput({ onSend, name }: { onSend: (content: string) => void; name: string }) {
  const [value, setValue] = useState('');
  return (
    <form
      className="tool-result-form"
      onSubmit={(event) => {
        event.preventDefault();
        if (value.trim()) onSend(value);
      }}
    >
      <label>
        Result of <code>{name}</code>
        <textarea rows={3} value={value} onChange={(event) => setValue(event.target.value)} placeholder='{"temperatureC": 21}' />
      </label>
      <button type="submit" className="small">
        Send result
      </button>
    </form>
  );
}

interface RoundProps {
  turn: Turn;
  round: Round;
  index: number;
  live: ChatStreamState | null;
  latest: boolean;
  lastRound: boolean;
  busy: boolean;
  typeToolResults: boolean;
  actions: TurnActions;
}

function RoundView({ turn, round: stored, index, live, latest, lastRound, busy, typeToolResults, actions }: RoundProps) {
  const round = live ? liveRound(stored, live) : stored;
  const streaming = round.status === 'streaming';
  const failed = round.status === 'failed';
  const { message } = round;
  const complete = !streaming;
  const classes = ['message', 'assistant', streaming ? 'streaming' : '', failed ? 'failed' : ''].filter(Boolean).join(' ');
  return (
    <div className={classes}>
      <h2 className="visually-hidden">Assistant</h2>
      {message.reasoning ? (
        <details className="reasoning">
          <summary>Reasoning</summary>
          <p className="reasoning-text">{message.reasoning}</p>
        </details>
      ) : null}
      <Markdown className="answer" text={message.content} />
      {message.refusal ? <p className="refusal">{message.refusal}</p> : null}
      {message.toolCalls.length > 0 ? (
        <div className="tool-calls">
          {message.toolCalls.map((call, callIndex) => {
            const result = round.toolResults.find((candidate) => candidate.callId === call.id);
            const awaiting = complete && round.finishReason === 'TOOL_CALLS' && !result && lastRound && latest && typeToolResults;
            return (
              // biome-ignore lint/suspicious/noArrayIndexKey: tool calls keep their index
              <figure className="tool-call" key={callIndex}>
                <figcaption>
                  Tool call <code className="tool-name">{call.name || '…'}</code>
                </figcaption>
                <pre className="tool-arguments">{complete ? prettyArguments(call.arguments) : call.arguments}</pre>
                {result ? (
                  <div className="tool-result">
                    <p className="tool-result-label">
                      {result.source === 'demo' ? 'Result (demo data, made up by this page)' : 'Result (typed by you)'}
                    </p>
                    <pre>{prettyArguments(result.content)}</pre>
                  </div>
                ) : null}
                {awaiting ? (
                  <ToolResultInput name={call.name} onSend={(content) => actions.onToolResult(turn.id, index, call.id, content)} />
                ) : null}
              </figure>
            );
          })}
        </div>
      ) : null}
      {failed && round.failure ? (
        <FailureCard
          failure={round.failure}
          at={round.failedAt ?? Date.now()}
          onRetry={latest && lastRound && !busy ? () => actions.onRetry(turn.id, index) : null}
          onCredential={actions.onCredential}
        />
      ) : null}
      {streaming && live ? <SlowNotice since={live.lastEventAt} onStop={actions.onStop} /> : null}
      <p className="turn-status">{statusText(round)}</p>
      {complete && (message.content || message.refusal) ? (
        <div className="message-actions">
          <CopyButton text={message.content || message.refusal} label="Copy answer" />
          {latest && lastRound && !busy ? (
            <button type="button" className="secondary small" onClick={actions.onRegenerate}>
              Regenerate
            </button>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

function UserMessage({ turn, busy, onEdit }: { turn: Turn; busy: boolean; onEdit: (text: string) => void }) {
  const [editing, setEditing] = useState<string | null>(null);
  const { user } = turn;
  if (editing !== null) {
    return (
      <form
        className="message user editing"
        aria-label="Edit your message"
        onSubmit={(event) => {
          event.preventDefault();
          if (!editing.trim()) return;
          setEditing(null);
          onEdit(editing.trim());
        }}
      >
        <label htmlFor={`edit-${turn.id}`} className="visually-hidden">
          Your message
        </label>
        <textarea id={`edit-${turn.id}`} rows={3} value={editing} onChange={(event) => setEditing(event.target.value)} />
        <div className="message-actions">
          <button type="submit" className="small" disabled={busy}>
            Send edited message
          </button>
          <button type="button" className="secondary small" onClick={() => setEditing(null)}>
            Cancel
          </button>
        </div>
      </form>
    );
  }
  return (
    <div className="message user">
      <h2 className="visually-hidden">You</h2>
      {user.imageUrl ? <img className="user-image" src={user.imageUrl} alt="Your attachment" /> : null}
      {user.text ? <p className="user-text">{user.text}</p> : null}
      <div className="message-actions">
        {user.text ? <CopyButton text={user.text} label="Copy message" /> : null}
        <button type="button" className="secondary small" disabled={busy} onClick={() => setEditing(user.text)}>
          Edit
        </button>
      </div>
    </div>
  );
}

export const TurnView = memo(function TurnView({ turn, live, latest, busy, typeToolResults, actions }: TurnProps) {
  const last = turn.rounds.length - 1;
  return (
    <article className="turn">
      <UserMessage turn={turn} busy={busy} onEdit={(text) => actions.onEdit(turn.id, text)} />
      {turn.rounds.map((round, index) => (
        <RoundView
          // biome-ignore lint/suspicious/noArrayIndexKey: rounds are appended, never reordered
          key={index}
          turn={turn}
          round={round}
          index={index}
          live={index === last && round.status === 'streaming' ? live : null}
          latest={latest}
          lastRound={index === last}
          busy={busy}
          typeToolResults={typeToolResults}
          actions={actions}
        />
      ))}
    </article>
  );
});
