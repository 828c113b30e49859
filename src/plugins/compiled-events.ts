/**
 * Subscription events executed by a compiled plan instead of a full execution per event.
 *
 * A subscription's event is always the same selection over a new payload (for chatCompletionStream,
 * a chunk), yet Yoga's executor runs each one as a whole operation: fields collected again, the
 * result built through promise helpers, and each event wrapped in an async generator of its own,
 * which the CPU profile of the burst benchmark showed as a tenth of the service's time per chunk.
 * Here the subscription is set up exactly as before (Yoga's executor builds the execution context,
 * so variables are coerced by it, `@oneOf` and every input rule included, and a refusal is the
 * same error with the same HTTP status), then each event runs through graphql-jit's compiled form
 * of the operation, compiled once per document.
 *
 * graphql-jit would coerce the operation's variables again for every event, without `@oneOf`. The
 * plan therefore compiles a copy of the operation whose variables are declared `String` and bound to
 * empty placeholders: per event, only the root field's resolver sees its arguments, and it does not
 * read them (the event is its source). An operation that uses a variable anywhere else (say
 * `@include(if: $x)` inside the selection), or that is not a single root field, keeps the full
 * execution per event.
 */
import type { Plugin } from '@envelop/core';
import { buildExecutionContext, buildResolveInfo, subscribe as executorSubscribe } from '@graphql-tools/executor';
import { getArgumentValues } from '@graphql-tools/utils';
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  locatedError,
  type OperationDefinitionNode,
  visit,
} from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';

type Payload = unknown;

interface Plan {
  /** The root field's node, for its arguments and its resolve info. */
  field: FieldNode;
  run(payload: Payload, context: unknown): ExecutionResult | Promise<ExecutionResult>;
}

/** Plans per document and operation name; null: this operation keeps the full execution. */
const plans = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, Plan | null>>>();

/** Whether the operation reads a variable anywhere but in its root field's arguments. */
function usesVariablesBelowRoot(document: DocumentNode, operation: OperationDefinitionNode, root: FieldNode): boolean {
  let inRootArguments = 0;
  for (const argument of root.arguments ?? []) {
    visit(argument, {
      enter: (node) => {
        if (node.kind === Kind.VARIABLE) inRootArguments++;
      },
    });
  }
  let everywhere = 0;
  visit(document, {
    enter: (node) => {
      // A definition's own `$name` is not a use.
      if (node.kind === Kind.VARIABLE_DEFINITION) return false;
      if (node.kind === Kind.VARIABLE) everywhere++;
      return undefined;
    },
  });
  return everywhere > inRootArguments || (operation.variableDefinitions ?? []).some((v) => v.directives?.length);
}

function compilePlan(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): Plan | null {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'subscription') return null;
  const [root, ...others] = operation.selectionSet.selections;
  if (root?.kind !== Kind.FIELD || others.length > 0 || root.directives?.length) return null;
  if (usesVariablesBelowRoot(document, operation, root)) return null;
  const variables = operation.variableDefinitions ?? [];
  const loose: OperationDefinitionNode = {
    ...operation,
    variableDefinitions: variables.map((definition) => ({
      ...definition,
      type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'String' } },
      defaultValue: undefined,
    })),
  };
  const copy: DocumentNode = {
    ...document,
    definitions: document.definitions.map((definition) => (definition === operation ? loose : definition)),
  };
  const compiled = compileQuery(schema, copy, operationName);
  if (!isCompiledQuery(compiled)) return null;
  const placeholders = Object.fromEntries(variables.map((definition) => [definition.variable.name.value, '']));
  return {
    field: root,
    run: (payload, context) => compiled.query(payload, context, placeholders) as ExecutionResult | Promise<ExecutionResult>,
  };
}

/** The plan of an operation (exported for its tests); null: the full execution per event. */
export function planFor(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): Plan | null {
  let bySchema = plans.get(schema);
  if (!bySchema) plans.set(schema, (bySchema = new WeakMap()));
  let byName = bySchema.get(document);
  if (!byName) bySchema.set(document, (byName = new Map()));
  const name = operationName ?? '';
  let plan = byName.get(name);
  if (plan === undefined) {
    plan = compilePlan(schema, document, operationName);
    byName.set(name, plan);
  }
  return plan;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Payload> {
  return typeof (value as AsyncIterable<Payload> | null)?.[Symbol.asyncIterator] === 'function';
}

/** Each payload of `source` through `plan`: no wrapper per event beyond the iterator's own promise. */
function mapEvents(source: AsyncIterator<Payload>, plan: Plan, context: unknown): AsyncIterableIterator<ExecutionResult> {
  const map = (result: IteratorResult<Payload>): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> => {
    if (result.done) return result;
    const mapped = plan.run(result.value, context);
    return mapped instanceof Promise ? mapped.then((value) => ({ done: false, value })) : { done: false, value: mapped };
  };
  const finished = (): Promise<IteratorResult<ExecutionResult>> => Promise.resolve({ done: true, value: undefined });
  return {
    next: () => source.next().then(map),
    return: () => (source.return ? source.return().then(map) : finished()),
    throw: (error?: unknown) => (source.throw ? source.throw(error).then(map) : Promise.reject(error)),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * The subscription's source stream, as Yoga's executor makes it (its `executeSubscription`, for the
 * single root field a plan has): the root field's `subscribe` with its coerced arguments.
 */
async function subscribeWithPlan(args: ExecutionArgs, plan: Plan): Promise<ExecutionResult | AsyncIterableIterator<ExecutionResult>> {
  const context = buildExecutionContext(args);
  // Refused variables and the like: the executor answers them as it always has.
  if (!('schema' in context)) return executorSubscribe(args) as Promise<ExecutionResult>;
  const rootType = args.schema.getSubscriptionType()!;
  const fieldName = plan.field.name.value;
  const responseName = plan.field.alias?.value ?? fieldName;
  const fieldDef = rootType.getFields()[fieldName];
  if (!fieldDef?.subscribe) return executorSubscribe(args) as Promise<ExecutionResult>;
  const path = { prev: undefined, key: responseName, typename: rootType.name };
  const info = buildResolveInfo(context, fieldDef, [plan.field], rootType, path);
  try {
    const fieldArgs = getArgumentValues(fieldDef, plan.field, context.variableValues.coerced);
    const stream = await fieldDef.subscribe(args.rootValue, fieldArgs, args.contextValue, info);
    context.signal?.throwIfAborted();
    if (stream instanceof Error) throw stream;
    if (!isAsyncIterable(stream)) {
      throw new GraphQLError(`Subscription field must return Async Iterable. Received: ${String(stream)}.`);
    }
    const source = stream[Symbol.asyncIterator]();
    // The executor's own cancellation (the request's signal, over SSE) ends the stream, as before.
    context.onSignalAbort?.(() => void source.return?.());
    return mapEvents(source, plan, args.contextValue);
  } catch (error) {
    return { errors: [locatedError(error, [plan.field], [responseName])] };
  }
}

export function useCompiledSubscriptionEvents(): Plugin {
  return {
    onSubscribe({ args, setSubscribeFn, subscribeFn }) {
      const plan = planFor(args.schema, args.document, args.operationName ?? undefined);
      if (plan === null) return;
      setSubscribeFn(((subscribeArgs: ExecutionArgs) =>
        subscribeArgs.document === args.document
          ? subscribeWithPlan(subscribeArgs, plan)
          : subscribeFn(subscribeArgs)) as typeof subscribeFn);
    },
  };
}
