/**
 * One turn on screen: the person's message, then the assistant's answer as it streams in, its tool
 * calls, and how it ended (usage and finish reason, stopped, or a failure with what to do).
 *
 * The answer grows by appending to one text node, so each token costs one small DOM change. The
 * status line under the answer is there from the first moment, so nothing moves when it fills in.
 */
import { prettyArguments, type ToolCallRecord, type UserTurn } from './conversation.js';
import type { Failure } from './failures.js';
import type { FinishReason } from './gql/graphql.js';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/** How a finish reason reads at the end of a turn. */
const FINISH_REASONS: Record<FinishReason, string> = {
  STOP: 'Done',
  LENGTH: 'Cut off at max tokens',
  TOOL_CALLS: 'The model called a tool',
  CONTENT_FILTER: 'Cut by the content filter',
  FUNCTION_CALL: 'The model called a function',
  OTHER: 'Done',
};

export class TurnView {
  readonly element = el('article', 'turn');
  private readonly answer = el('div', 'message assistant');
  private readonly reasoning = el('details', 'reasoning');
  private readonly reasoningText = document.createTextNode('');
  private readonly answerText = document.createTextNode('');
  private readonly answerBlock = el('p', 'answer');
  private readonly refusal = el('p', 'refusal');
  private readonly refusalText = document.createTextNode('');
  private readonly toolCalls = el('div', 'tool-calls');
  private readonly failure = el('div', 'failure');
  private readonly status = el('p', 'turn-status');
  private countdown: ReturnType<typeof setInterval> | undefined;
  /** Tool calls by index as their deltas arrive. */
  private readonly streamedCalls = new Map<number, ToolCallRecord>();

  constructor(readonly user: UserTurn) {
    const you = el('div', 'message user');
    you.append(el('h2', 'visually-hidden', 'You'));
    if (user.imageUrl) {
      const image = el('img', 'user-image');
      image.src = user.imageUrl;
      image.alt = 'Attached image';
      you.append(image);
    }
    if (user.text) you.append(el('p', 'user-text', user.text));

    this.reasoning.append(el('summary', undefined, 'Reasoning'), el('p', 'reasoning-text'));
    this.reasoning.lastElementChild!.append(this.reasoningText);
    this.reasoning.hidden = true;
    this.answerBlock.append(this.answerText);
    this.refusal.append(this.refusalText);
    this.refusal.hidden = true;
    this.toolCalls.hidden = true;
    this.failure.hidden = true;
    this.answer.append(
      el('h2', 'visually-hidden', 'Assistant'),
      this.reasoning,
      this.answerBlock,
      this.refusal,
      this.toolCalls,
      this.failure,
      this.status,
    );
    this.element.append(you, this.answer);
    this.start();
  }

  /** Clears the answer for a new attempt (Retry). */
  start(): void {
    this.stopCountdown();
    this.answerText.data = '';
    this.reasoningText.data = '';
    this.reasoning.hidden = true;
    this.refusalText.data = '';
    this.refusal.hidden = true;
    this.toolCalls.replaceChildren();
    this.toolCalls.hidden = true;
    this.streamedCalls.clear();
    this.failure.replaceChildren();
    this.failure.hidden = true;
    this.failure.removeAttribute('role');
    this.answer.classList.remove('failed');
    this.answer.classList.add('streaming');
    this.status.textContent = 'Writing…';
  }

  get answerSoFar(): string {
    return this.answerText.data;
  }

  appendContent(text: string): void {
    this.answerText.appendData(text);
  }

  appendReasoning(text: string): void {
    this.reasoning.hidden = false;
    this.reasoningText.appendData(text);
  }

  appendRefusal(text: string): void {
    this.refusal.hidden = false;
    this.refusalText.appendData(text);
  }

  /** A tool call delta: the first one of an index carries the id and name, the rest append arguments. */
  appendToolCall(index: number, delta: { id?: string | null; name?: string | null; arguments?: string | null }): void {
    let call = this.streamedCalls.get(index);
    if (!call) {
      call = { id: '', name: '', arguments: '' };
      this.streamedCalls.set(index, call);
    }
    call.id ||= delta.id ?? '';
    call.name += delta.name ?? '';
    call.arguments += delta.arguments ?? '';
    this.renderToolCalls([...this.streamedCalls.values()], false);
  }

  /** Tool calls as the whole completion has them: the arguments can now be pretty-printed. */
  renderToolCalls(calls: readonly Pick<ToolCallRecord, 'name' | 'arguments'>[], complete: boolean): void {
    this.toolCalls.hidden = calls.length === 0;
    this.toolCalls.replaceChildren(
      ...calls.map((call) => {
        const view = el('figure', 'tool-call');
        const caption = el('figcaption');
        caption.append('Tool call ', el('code', 'tool-name', call.name || '…'));
        view.append(caption, el('pre', 'tool-arguments', complete ? prettyArguments(call.arguments) : call.arguments));
        return view;
      }),
    );
  }

  finish(finishReason: FinishReason | null, usage: { promptTokens: number; completionTokens: number } | null): void {
    this.answer.classList.remove('streaming');
    const parts = [finishReason ? `${FINISH_REASONS[finishReason]} · finish reason: ${finishReason.toLowerCase()}` : 'Done'];
    if (usage) parts.push(`tokens: ${usage.promptTokens} prompt + ${usage.completionTokens} completion`);
    this.status.textContent = parts.join(' · ');
  }

  stopped(): void {
    this.answer.classList.remove('streaming');
    this.status.textContent = this.answerText.data ? 'Stopped: the answer is cut short.' : 'Stopped before the answer began.';
  }

  /**
   * Shows a failure; `onRetry` sends the turn again (offered for retryable failures), and
   * `onCredential` takes the person to the credential field (for a missing or refused one).
   */
  fail(failure: Failure, onRetry: () => void, onCredential?: () => void): void {
    this.answer.classList.remove('streaming');
    this.answer.classList.add('failed');
    this.status.textContent = '';
    const heading = el('p', 'failure-title');
    const advice = el('p', 'failure-advice', failure.advice);
    this.failure.replaceChildren(heading, advice);
    if (failure.message) this.failure.append(el('p', 'failure-message', failure.message));
    // An alert is read out once, when it appears; the countdown's ticks are hidden from screen
    // readers so that they do not read a number every second.
    this.failure.setAttribute('role', 'alert');
    this.failure.hidden = false;

    const retryButton = () => {
      const button = el('button', 'retry', 'Retry');
      button.type = 'button';
      button.addEventListener('click', onRetry, { once: true });
      this.failure.append(button);
      return button;
    };

    const { action } = failure;
    if (action.kind !== 'wait') {
      heading.textContent = failure.title;
      if (action.kind === 'retry') retryButton();
      if (action.kind === 'credential' && onCredential) {
        const button = el('button', 'secondary small', 'Enter API key or token');
        button.type = 'button';
        button.addEventListener('click', onCredential);
        this.failure.append(button);
      }
      return;
    }
    const until = Date.now() + action.seconds * 1000;
    const seconds = el('span', 'countdown', String(action.seconds));
    seconds.setAttribute('aria-hidden', 'true');
    heading.append(`${failure.title}: try again in `, seconds, ' s');
    heading.append(el('span', 'visually-hidden', ` (${action.seconds} seconds)`));
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      seconds.textContent = String(left);
      if (left > 0) return;
      this.stopCountdown();
      heading.textContent = `${failure.title}: you can try again now.`;
      retryButton();
    };
    this.countdown = setInterval(tick, 250);
  }

  /** Ends the turn's part in the conversation: no more Retry (a newer turn has started). */
  retire(): void {
    this.stopCountdown();
    for (const button of this.failure.querySelectorAll('button')) button.remove();
  }

  private stopCountdown(): void {
    clearInterval(this.countdown);
    this.countdown = undefined;
  }
}
