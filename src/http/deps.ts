import type { ActionLimit } from '../accounts/rate-limit.js';
import type { Metrics } from '../metrics.js';
import type { RateLimiter } from '../accounts/rate-limit.js';
import type { Config } from '../config.js';
import type { Db } from '../db/schema.js';
import type { DetectionEngine } from '../inference/index.js';
import type { JobServiceDeps } from '../jobs/service.js';
import type { InferGate } from '../infer/gate.js';
import type { LiveManager } from '../live/manager.js';
import type { Cluster } from '../cluster/index.js';
import type { WebhookEvents } from '../events/webhooks.js';
import type { Logger } from '../log.js';

/** What a dependency reports to /api/v1/health. */
export interface HealthCheck {
  readonly ok: boolean;
  readonly [key: string]: unknown;
}

/** Everything route handlers may use; built once in app.ts. */
export interface AppDeps {
  readonly config: Config;
  readonly db: Db;
  readonly engine: DetectionEngine;
  readonly logger: Logger;
  readonly live: LiveManager;
  /** Several servers as one (REDIS_URL): routing to a session's server, placement, drain, who is up. */
  readonly cluster: Cluster;
  /** Job submission and cancellation (database, engine, queue). */
  readonly jobs: JobServiceDeps;
  /** The ffprobe binary (FFPROBE_PATH, beside ffmpeg, on PATH, or bundled), resolved once. */
  readonly ffprobePath: () => Promise<string>;
  readonly metrics: Metrics;
  /** Webhook events: emitting and manual retries. */
  readonly webhooks: WebhookEvents;
  /** The ports this server listens on, once it does (HTTPS 0 when off). */
  readonly ports: { readonly http: () => number; readonly https: () => number };
  /** Concurrent one-call inference requests (INFER_CONCURRENCY). */
  readonly inferGate: InferGate;
  /** Per-user and per-address limits of costly actions (429 with Retry-After). */
  readonly limits: { readonly live: ActionLimit; readonly uploads: ActionLimit; readonly jobs: ActionLimit };
  readonly loginLimits: { readonly perAccount: RateLimiter; readonly perAddress: RateLimiter };
  /** Sign-ups per client address (SIGNUP_MAX_PER_ADDRESS per SIGNUP_WINDOW_S). */
  readonly signupLimit: RateLimiter;
  readonly health: {
    readonly db: () => Promise<HealthCheck>;
    readonly queue: () => Promise<HealthCheck>;
    readonly ffmpeg: () => Promise<HealthCheck>;
    readonly onnx: () => Promise<HealthCheck>;
  };
}
