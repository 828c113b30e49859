/**
 * A failed answer: what happened and what to do, with Retry where retrying can help, a countdown
 * for a rate limit (or a model cooling down) with a known wait, and a way to the credential field
 * when the person's own key is missing or refused. It is an alert: read out once, when it appears.
 */
import { useEffect, useState } from 'react';

import type { Failure } from '../failures.js';

interface Props {
  failure: Failure;
  /** When the failure happened (ms since the epoch): a countdown runs from there. */
  at: number;
  /** Offered only where retrying can help, and only on the latest turn. */
  onRetry: (() => void) | null;
  onCredential: () => void;
}

export function FailureCard({ failure, at, onRetry, onCredential }: Props) {
  const { action } = failure;
  const until = action.kind === 'wait' ? at + action.seconds * 1000 : 0;
  const [left, setLeft] = useState(() => Math.max(0, Math.ceil((until - Date.now()) / 1000)));
  useEffect(() => {
    if (action.kind !== 'wait') return;
    const tick = () => setLeft(Math.max(0, Math.ceil((until - Date.now()) / 1000)));
    tick();
    const timer = setInterval(tick, 250);
    return () => clearInterval(timer);
  }, [action.kind, until]);

  const retry = onRetry ? (
    <button type="button" className="retry" onClick={onRetry}>
      Retry
    </button>
  ) : null;

  return (
    <div className={`failure${failure.title === 'Blocked by a content policy' ? ' blocked' : ''}`} role="alert">
      {action.kind === 'wait' ? (
        left > 0 ? (
          <p className="failure-title">
            {failure.title}: try again in{' '}
            <span className="countdown" aria-hidden="true">
              {left}
            </span>{' '}
            s<span className="visually-hidden"> ({action.seconds} seconds)</span>
          </p>
        ) : (
          <p className="failure-title">{failure.title}: you can try again now.</p>
        )
      ) : (
        <p className="failure-title">{failure.title}</p>
      )}
      <p className="failure-advice">{failure.advice}</p>
      {failure.message ? <p className="failure-message">{failure.message}</p> : null}
      {action.kind === 'retry' || (action.kind === 'wait' && left === 0) ? retry : null}
      {action.kind === 'credential' ? (
        <button type="button" className="secondary small" onClick={onCredential}>
          Enter API key or token
        </button>
      ) : null}
    </div>
  );
}
