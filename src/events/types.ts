/** The events a webhook can subscribe to, and the sink the rest of the server emits them into. */
export const EVENT_TYPES = ['job.completed', 'job.failed', 'live.ended', 'live.track', 'live.zone', 'balance.low'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (v: unknown): v is EventType => typeof v === 'string' && (EVENT_TYPES as readonly string[]).includes(v);

/**
 * Where live sessions, jobs and the ledger send events. `emit` never throws and never waits for delivery: a
 * subscriber's trouble must not slow a frame or fail a job.
 */
export interface EventSink {
  emit(userId: string, type: EventType, data: Record<string, unknown>): void;
}

export const NO_EVENTS: EventSink = { emit: () => undefined };
