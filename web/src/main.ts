/**
 * The chat page: a model picker from the `models` query, then one `chatCompletionStream`
 * subscription per turn, whose chunks are written into the page as they arrive. Stop ends the
 * subscription, which makes the service abort its upstream request.
 *
 * With AUTH_MODE, the person enters an API key or token in the settings (credential.ts); `viewer`
 * then says who the page is signed in as and what is left of its limits.
 */
import './style.css';

import type { OperationResult } from '@urql/core';

import { createChatClient } from './client.js';
import { buildInput, type PastTurn, type Settings, type ToolCallRecord, type UserTurn } from './conversation.js';
import { Credential } from './credential.js';
import { type CredentialState, describeFailure, describeModelsFailure, describeTransportFailure, type Failure } from './failures.js';
import type { AuthMode, ChatStreamSubscription, ChatStreamSubscriptionVariables } from './gql/graphql.js';
import { ChatStreamSubscription as ChatStream, ModelsQuery, ViewerQuery } from './operations.js';
import { TurnView } from './turn.js';

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

const ui = {
  settings: byId<HTMLDetailsElement>('settings'),
  settingsModel: byId('settings-model'),
  model: byId<HTMLSelectElement>('model'),
  modelStatus: byId('model-status'),
  system: byId<HTMLTextAreaElement>('system'),
  temperature: byId<HTMLInputElement>('temperature'),
  maxTokens: byId<HTMLInputElement>('max-tokens'),
  weatherTool: byId<HTMLInputElement>('weather-tool'),
  newChat: byId<HTMLButtonElement>('new-chat'),
  log: byId('log'),
  empty: byId('empty'),
  composer: byId<HTMLFormElement>('composer'),
  prompt: byId<HTMLTextAreaElement>('prompt'),
  image: byId<HTMLInputElement>('image'),
  attachment: byId('attachment'),
  attachmentPreview: byId<HTMLImageElement>('attachment-preview'),
  attachmentName: byId('attachment-name'),
  attachmentError: byId('attachment-error'),
  removeImage: byId<HTMLButtonElement>('remove-image'),
  send: byId<HTMLButtonElement>('send'),
  stop: byId<HTMLButtonElement>('stop'),
  credential: byId<HTMLInputElement>('credential'),
  credentialSave: byId<HTMLButtonElement>('credential-save'),
  credentialForget: byId<HTMLButtonElement>('credential-forget'),
  credentialRemember: byId<HTMLInputElement>('credential-remember'),
  credentialNote: byId('credential-note'),
  viewerWho: byId('viewer-who'),
  viewerLeft: byId('viewer-left'),
};

/** Larger images are refused: every later turn sends them again as part of the history. */
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/** Models that cannot chat, or that the mock upstream uses to show failures: not preselected. */
const NOT_A_CHAT_MODEL = /^fail-|embed|whisper|tts|dall-e|moderation|-bench$/i;

const credential = new Credential();
const client = createChatClient(credential);
/** How the service authenticates, once `viewer` has said so (only asked with a credential). */
let authMode: AuthMode | null = null;

interface Entry {
  view: TurnView;
  /** Set once the turn may go into the history: finished, or stopped with what had arrived. */
  past: PastTurn | null;
}

const turns: Entry[] = [];
let active: { entry: Entry; unsubscribe: () => void } | null = null;
let lockedUntil = 0;
let unlockTimer: ReturnType<typeof setTimeout> | undefined;
let attachment: { url: string; name: string } | null = null;

// ---------------------------------------------------------------------------
// Controls

function updateControls(): void {
  const streaming = active !== null;
  ui.send.disabled = streaming || Date.now() < lockedUntil || ui.model.disabled;
  ui.stop.disabled = !streaming;
  // Screen readers wait for the whole answer instead of reading every token.
  ui.log.setAttribute('aria-busy', String(streaming));
}

/** A rate limit with Retry-After: no sending until it has passed. */
function lockSending(seconds: number): void {
  lockedUntil = Date.now() + seconds * 1000;
  clearTimeout(unlockTimer);
  unlockTimer = setTimeout(() => {
    lockedUntil = 0;
    updateControls();
  }, seconds * 1000);
  updateControls();
}

function readSettings(): Settings {
  const numberOf = (input: HTMLInputElement) =>
    input.value.trim() === '' || Number.isNaN(input.valueAsNumber) ? null : input.valueAsNumber;
  const maxTokens = numberOf(ui.maxTokens);
  return {
    model: ui.model.value,
    system: ui.system.value,
    temperature: numberOf(ui.temperature),
    maxTokens: maxTokens === null ? null : Math.round(maxTokens),
    offerWeatherTool: ui.weatherTool.checked,
  };
}

// ---------------------------------------------------------------------------
// Models

/** Counts model list loads, so that only the latest one (a credential was saved meanwhile) is shown. */
let modelsLoad = 0;

async function loadModels(): Promise<void> {
  const load = ++modelsLoad;
  const previous = ui.model.disabled ? null : ui.model.value;
  ui.model.disabled = true;
  ui.modelStatus.replaceChildren('Loading models…');
  showModel();
  updateControls();
  const result = await client.query(ModelsQuery, {}).toPromise();
  if (load !== modelsLoad) return;
  const models = result.data?.models;
  if (models?.__typename !== 'ModelList' || models.models.length === 0) {
    const failure: Failure = result.error
      ? describeTransportFailure(result.error, credentialState())
      : models && models.__typename !== 'ModelList'
        ? describeModelsFailure(models, credentialState())
        : { title: 'No models', advice: 'The upstream lists no models.', action: { kind: 'retry' } };
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary small';
    if (failure.action.kind === 'credential') {
      button.textContent = 'Enter API key or token';
      button.addEventListener('click', pointToCredential);
    } else {
      button.textContent = 'Retry';
      button.addEventListener('click', () => void loadModels(), { once: true });
    }
    // #model-status is a live region: the failure is read out where it is shown.
    ui.modelStatus.replaceChildren(`${failure.title}: ${failure.advice} `, button);
    ui.model.replaceChildren(new Option('No model available'));
    if (failure.action.kind === 'credential') pointToCredential();
    return;
  }

  const ids = models.models.map((model) => model.id);
  const chat = ids.filter((id) => !id.startsWith('fail-'));
  const failures = ids.filter((id) => id.startsWith('fail-'));
  const group = (label: string, list: string[]) => {
    const element = document.createElement('optgroup');
    element.label = label;
    element.append(...list.map((id) => new Option(id, id)));
    return element;
  };
  // The embedded mock's failure models (fail-429, fail-500, ...) show how each error looks.
  ui.model.replaceChildren(
    ...(failures.length > 0 ? [group('Models', chat), group('Failure demos', failures)] : chat.map((id) => new Option(id, id))),
  );
  // Loaded again (a new credential), the model picked before stays picked if it is still offered.
  ui.model.value =
    (previous !== null && ids.includes(previous) ? previous : null) ?? ids.find((id) => !NOT_A_CHAT_MODEL.test(id)) ?? ids[0] ?? '';
  ui.model.disabled = false;
  ui.modelStatus.replaceChildren();
  showModel();
  updateControls();
}

/** The folded settings of a narrow screen still say which model answers. */
function showModel(): void {
  ui.settingsModel.textContent = ui.model.disabled ? '' : `· ${ui.model.value}`;
}

// ---------------------------------------------------------------------------
// Credential (AUTH_MODE): the field, who the page is signed in as, what is left

function credentialState(): CredentialState {
  return { present: credential.value !== null, forwarded: authMode === 'FORWARD' };
}

/** Takes the person to the credential field: the message saying why is already on screen. */
function pointToCredential(): void {
  // Folded settings (a narrow screen) open, and are laid out before focus moves in: otherwise
  // Chromium can leave the <details> drawn closed, and the focus where it was.
  ui.settings.open = true;
  void ui.settings.offsetHeight;
  ui.credential.focus();
}

function showCredentialControls(): void {
  ui.credentialForget.disabled = credential.value === null && ui.credential.value === '';
  ui.credentialNote.textContent = ui.credentialRemember.checked
    ? "Kept in this browser's local storage until you Forget it; sent only to this service, never in a URL."
    : "Kept in this tab's session storage until the tab closes; sent only to this service, never in a URL.";
}

/** The status line's two parts; the first is a live region, so it is only written when it changes. */
function showViewer(who: string, left: string): void {
  if (ui.viewerWho.textContent !== who) ui.viewerWho.textContent = who;
  ui.viewerLeft.textContent = left;
}

const count = (value: number) => value.toLocaleString('en');

/** Counts viewer loads, so that an older answer never overwrites a newer one. */
let viewerLoad = 0;

/** Asks `viewer` who the page is signed in as; without a credential, the status line stays empty. */
async function loadViewer(): Promise<void> {
  const load = ++viewerLoad;
  if (credential.value === null) {
    authMode = null;
    showViewer('', '');
    return;
  }
  const result = await client.query(ViewerQuery, {}).toPromise();
  if (load !== viewerLoad) return;
  const viewer = result.data?.viewer;
  if (!viewer) {
    showViewer('', '');
    return;
  }
  if (viewer.__typename !== 'Viewer') {
    // AuthenticationError: the models query, asked at the same time, says what to do.
    authMode = null;
    showViewer('Not signed in: the credential was refused.', '');
    return;
  }
  authMode = viewer.authMode;
  if (viewer.authMode === 'NONE') {
    showViewer('This service does not ask for a credential.', '');
    return;
  }
  const { requestsPerMinute, dailyTokens } = viewer.limits;
  const left = [
    requestsPerMinute ? `${count(requestsPerMinute.remaining)} of ${count(requestsPerMinute.limit)} requests left this minute` : null,
    dailyTokens ? `${count(dailyTokens.remaining)} of ${count(dailyTokens.limit)} tokens left today` : null,
  ].filter((part) => part !== null);
  showViewer(`Signed in as ${viewer.clientId}.`, left.join(' · '));
}

/** A new credential (or none): a streaming answer stops, then who, and the models, are asked again. */
function applyCredential(change: () => void): void {
  stop();
  change();
  ui.credential.value = credential.value ?? '';
  ui.credentialRemember.checked = credential.remembered;
  showCredentialControls();
  void loadViewer();
  void loadModels();
}

function saveCredential(): void {
  if (ui.credential.value.trim() === '') {
    forgetCredential();
    return;
  }
  applyCredential(() => credential.save(ui.credential.value, ui.credentialRemember.checked));
}

function forgetCredential(): void {
  applyCredential(() => credential.forget());
}

// ---------------------------------------------------------------------------
// Turns

function nearBottom(): boolean {
  return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 48;
}

function scrollToEnd(): void {
  ui.log.scrollTop = ui.log.scrollHeight;
}

function send(user: UserTurn): void {
  if (active || ui.send.disabled) return;
  for (const turn of turns) turn.view.retire();
  const entry: Entry = { view: new TurnView(user), past: null };
  turns.push(entry);
  ui.empty.hidden = true;
  ui.log.append(entry.view.element);
  stream(entry);
  scrollToEnd();
}

function retry(entry: Entry): void {
  if (active || Date.now() < lockedUntil) return;
  entry.view.start();
  stream(entry);
  ui.prompt.focus();
}

function stream(entry: Entry): void {
  const { view } = entry;
  const history = turns.filter((turn) => turn !== entry && turn.past).map((turn) => turn.past!);
  const variables: ChatStreamSubscriptionVariables = { input: buildInput(readSettings(), history, view.user) };
  const run = { entry, unsubscribe: () => {} };
  active = run;
  updateControls();

  const end = () => {
    if (active === run) active = null;
    updateControls();
  };
  const fail = (failure: Failure) => {
    view.fail(failure, () => retry(entry), pointToCredential);
    if (failure.action.kind === 'wait') lockSending(failure.action.seconds);
    end();
    if (failure.action.kind === 'credential') pointToCredential();
  };

  const onResult = (result: OperationResult<ChatStreamSubscription, ChatStreamSubscriptionVariables>) => {
    if (active !== run) return;
    if (result.error) return fail(describeTransportFailure(result.error, credentialState()));
    // urql repeats the last event with hasNext: false when the server completes; the contract
    // puts a terminal event before that, so reaching this means the stream broke off.
    if (result.hasNext === false)
      return fail({ title: 'Connection lost', advice: 'The answer broke off. Retry to ask again.', action: { kind: 'retry' } });
    const event = result.data?.chatCompletionStream;
    if (!event) return;
    const stick = nearBottom();
    switch (event.__typename) {
      case 'ChatCompletionChunk':
        for (const choice of event.choices) {
          if (choice.index !== 0) continue;
          const { content, reasoningContent, refusal, toolCalls } = choice.delta;
          if (reasoningContent) view.appendReasoning(reasoningContent);
          if (content) view.appendContent(content);
          if (refusal) view.appendRefusal(refusal);
          for (const call of toolCalls ?? []) {
            view.appendToolCall(call.index, { id: call.id, name: call.function?.name, arguments: call.function?.arguments });
          }
        }
        break;
      case 'ChatCompletion': {
        const choice = event.choices.find((candidate) => candidate.index === 0);
        const toolCalls: ToolCallRecord[] = (choice?.message.toolCalls ?? []).map((call) => ({
          id: call.id,
          name: call.function.name,
          arguments: call.function.arguments,
        }));
        view.renderToolCalls(toolCalls, true);
        view.finish(choice?.finishReason ?? null, event.usage);
        entry.past = {
          user: view.user,
          answer: choice?.message.content ?? view.answerSoFar,
          toolCalls,
          reasoningContent: choice?.message.reasoningContent ?? null,
          // Exactly as received: the upstream checks their signatures.
          thinkingBlocks:
            choice?.message.thinkingBlocks?.map(({ type, thinking, signature, data }) => ({ type, thinking, signature, data })) ?? null,
        };
        end();
        // What is left of the limits, after what this answer used.
        if (authMode !== null && authMode !== 'NONE') void loadViewer();
        break;
      }
      default:
        fail(describeFailure(event, credentialState()));
    }
    if (stick) scrollToEnd();
  };

  const subscription = client.subscription(ChatStream, variables).subscribe(onResult);
  run.unsubscribe = () => subscription.unsubscribe();
}

function stop(): void {
  if (!active) return;
  const { entry, unsubscribe } = active;
  // Ending the subscription sends graphql-ws `complete`: the service aborts the upstream request.
  unsubscribe();
  active = null;
  entry.view.stopped();
  entry.past = { user: entry.view.user, answer: entry.view.answerSoFar, toolCalls: [] };
  updateControls();
  ui.prompt.focus();
}

function newChat(): void {
  stop();
  for (const turn of turns) turn.view.retire();
  turns.splice(0);
  // A fresh start: a rate limit still in force shows again, with its own countdown, on the next send.
  clearTimeout(unlockTimer);
  lockedUntil = 0;
  updateControls();
  ui.log.replaceChildren(ui.empty);
  ui.empty.hidden = false;
  ui.prompt.focus();
}

// ---------------------------------------------------------------------------
// Image attachment

function setAttachment(next: { url: string; name: string } | null): void {
  attachment = next;
  ui.attachment.hidden = next === null;
  ui.attachmentPreview.src = next?.url ?? '';
  ui.attachmentPreview.alt = next ? `Preview of ${next.name}` : '';
  ui.attachmentName.textContent = next?.name ?? '';
}

ui.image.addEventListener('change', () => {
  const file = ui.image.files?.[0];
  ui.image.value = '';
  ui.attachmentError.textContent = '';
  if (!file) return;
  if (!file.type.startsWith('image/')) {
    ui.attachmentError.textContent = `${file.name} is not an image: choose a PNG, JPEG, GIF or WebP file.`;
    return;
  }
  if (file.size > MAX_IMAGE_BYTES) {
    ui.attachmentError.textContent = `${file.name} is ${(file.size / 1024 / 1024).toFixed(1)} MB: attach an image of 5 MB at most.`;
    return;
  }
  const reader = new FileReader();
  reader.addEventListener('load', () => setAttachment({ url: String(reader.result), name: file.name }));
  reader.addEventListener('error', () => (ui.attachmentError.textContent = `${file.name} could not be read.`));
  // A data: URI goes to the API as an image content part; no upload service is needed.
  reader.readAsDataURL(file);
});

ui.removeImage.addEventListener('click', () => {
  setAttachment(null);
  ui.prompt.focus();
});

// ---------------------------------------------------------------------------
// Wiring

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.prompt.value.trim();
  if ((!text && !attachment) || ui.send.disabled) return;
  send({ text, imageUrl: attachment?.url });
  ui.prompt.value = '';
  setAttachment(null);
});

ui.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composer.requestSubmit();
  }
});

document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && active) {
    event.preventDefault();
    stop();
  }
});

ui.credentialSave.addEventListener('click', saveCredential);
ui.credentialForget.addEventListener('click', forgetCredential);
ui.credential.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.isComposing) {
    event.preventDefault();
    saveCredential();
  }
});
ui.credential.addEventListener('input', showCredentialControls);
ui.credentialRemember.addEventListener('change', () => {
  // A saved credential moves to the other storage at once; a new one goes there on Save.
  credential.keepIn(ui.credentialRemember.checked);
  showCredentialControls();
});

ui.stop.addEventListener('click', stop);
ui.model.addEventListener('change', showModel);
ui.newChat.addEventListener('click', newChat);

// Settings sit beside the chat on wide screens and fold away above it on narrow ones.
const wide = matchMedia('(min-width: 56rem)');
const placeSettings = () => (ui.settings.open = wide.matches);
placeSettings();
wide.addEventListener('change', placeSettings);

ui.credential.value = credential.value ?? '';
ui.credentialRemember.checked = credential.remembered;
showCredentialControls();
updateControls();
void loadModels();
void loadViewer();
