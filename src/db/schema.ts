/**
 * The typed shape of the database, as kysely sees it. Migrations in ./migrations create exactly this;
 * they never import from here (a migration is frozen history, the app types move on).
 */
import type { ColumnType, Generated, Insertable, Kysely, Selectable, Transaction, Updateable } from 'kysely';

/** int8 columns are parsed to JS numbers by the pool's type parser (see connect.ts). */
type Int8 = ColumnType<number, number | bigint, number | bigint>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
/** A jsonb column as pg parses it. */
export type Json = Record<string, unknown>;

export type Role = 'user' | 'admin';

export interface UsersTable {
  id: Generated<string>;
  email: string;
  password_hash: string;
  role: Role;
  balance_milli: ColumnType<number, number | undefined, number>;
  /** A balance.low event went out and the balance has not been back above BALANCE_LOW_TOKENS since. */
  balance_low_sent: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
  /** Disabled by an admin: cannot sign in; sessions, keys and live sessions were ended. */
  disabled_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** Deleted: the row stays, anonymised, for the ledger. */
  deleted_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_login_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface SessionsTable {
  /** SHA-256 (hex) of the bearer token; the token itself is never stored. */
  id: string;
  user_id: string;
  expires_at: ColumnType<Date, Date, Date>;
  created_at: CreatedAt;
}

export interface TokenLedgerTable {
  /** generated always as identity */
  id: ColumnType<number, never, never>;
  user_id: string;
  amount_milli: Int8;
  balance_after_milli: Int8;
  reason: string;
  ref: string | null;
  idempotency_key: string | null;
  /** Why, for an admin's adjustment. */
  note: ColumnType<string | null, string | null | undefined, never>;
  created_at: CreatedAt;
}

export interface TokenReservationsTable {
  id: Generated<string>;
  user_id: string;
  ref: string;
  held_milli: Int8;
  charged_milli: ColumnType<number, number | undefined, number>;
  refunded_milli: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
}

export interface TokenChargesTable {
  idempotency_key: string;
  reservation_id: string;
  amount_milli: Int8;
  created_at: CreatedAt;
}

export type LiveEndReason = 'stopped' | 'disconnected' | 'insufficient_tokens' | 'error' | 'server_lost';

export interface LiveSessionsTable {
  id: string;
  user_id: string;
  model: string;
  via: 'ws' | 'whip';
  codec: string | null;
  width: number | null;
  height: number | null;
  budget_ms: number;
  state: ColumnType<'live' | 'ended', 'live' | 'ended' | undefined, 'live' | 'ended'>;
  end_reason: LiveEndReason | null;
  frames_in: ColumnType<number, number | undefined, number>;
  frames_processed: ColumnType<number, number | undefined, number>;
  frames_dropped: ColumnType<number, number | undefined, number>;
  dropped_stale: ColumnType<number, number | undefined, number>;
  dropped_late: ColumnType<number, number | undefined, number>;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  latency_p99_ms: number | null;
  tokens_charged_milli: ColumnType<number, number | undefined, number>;
  recording_path: string | null;
  started_at: CreatedAt;
  ended_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  heartbeat_at: ColumnType<Date, Date | undefined, Date>;
  /** The server running it (NODE_ID). */
  node_id: string | null;
  /** The pipeline it started with (PipelineSpec), and tracks started per label. */
  pipeline: ColumnType<Json, string | undefined, string>;
  counts: ColumnType<Record<string, number>, string | undefined, string>;
  /** Whether its detections are stored (live_detections). */
  stores_detections: ColumnType<boolean, boolean | undefined, boolean>;
}

/** The objects of one processed frame of a live session. */
export interface LiveDetectionsTable {
  session_id: string;
  frame: number;
  /** Milliseconds since the session's first frame, on the video's own (RTP) clock: the recording's timeline. */
  t_ms: number;
  rtp_timestamp: Int8;
  objects: ColumnType<unknown[], string, string>;
}

export interface WebhooksTable {
  id: Generated<string>;
  user_id: string;
  url: string;
  events: ColumnType<string[], string[], string[]>;
  description: string | null;
  /** `whsec_…`: needed in the clear to sign each delivery. */
  secret: string;
  /** Deliveries in a row that failed every attempt (0 after any success). */
  failed_deliveries: ColumnType<number, number | undefined, number>;
  disabled_at: Date | null;
  disabled_reason: string | null;
  created_at: CreatedAt;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDeliveriesTable {
  /** `msg_…`: the webhook-id header, the same on every attempt. */
  id: string;
  webhook_id: string;
  event: string;
  /** The exact body sent (signed as is on every attempt). */
  payload: string;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: Date | null;
  created_at: CreatedAt;
}

export interface DatasetsTable {
  id: string;
  user_id: string;
  name: string;
  tags: ColumnType<string[], string | undefined, string>;
  created_at: CreatedAt;
}

export type MediaKind = 'image' | 'video';

export interface DatasetFilesTable {
  id: string;
  dataset_id: string;
  user_id: string;
  name: string;
  kind: MediaKind;
  format: string;
  storage_key: string;
  bytes: Int8;
  width: number;
  height: number;
  frames: number;
  fps: number | null;
  token_cost_milli: Int8;
  created_at: CreatedAt;
}

export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface JobsTable {
  id: string;
  user_id: string;
  dataset_id: string | null;
  model: string;
  state: ColumnType<JobState, JobState | undefined, JobState>;
  done: ColumnType<number, number | undefined, number>;
  total: number;
  token_cost_milli: Int8;
  tokens_charged_milli: ColumnType<number, number | undefined, number>;
  reservation_id: string | null;
  error: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
  started_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  finished_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** The pipeline (PipelineSpec without `model`): classifier, filters, zones, tracking. */
  pipeline: ColumnType<Json, string | undefined, string>;
}

export interface JobFilesTable {
  job_id: string;
  position: number;
  file_id: string;
  name: string;
  kind: MediaKind;
  format: string;
  storage_key: string;
  width: number;
  height: number;
  frames: number;
  fps: number | null;
  token_cost_milli: Int8;
  state: ColumnType<'pending' | 'done' | 'failed', 'pending' | 'done' | 'failed' | undefined, 'pending' | 'done' | 'failed'>;
  results: ColumnType<unknown, string | null | undefined, string | null>;
  annotated_key: string | null;
  error: string | null;
}

export interface ApiKeysTable {
  id: Generated<string>;
  user_id: string;
  name: string;
  /** The first characters of the key, shown to tell keys apart. */
  prefix: string;
  /** SHA-256 (hex) of the whole key; the key itself is never stored. */
  secret_hash: string;
  created_at: CreatedAt;
  expires_at: Date | null;
  last_used_at: Date | null;
}

export interface InvitesTable {
  id: Generated<string>;
  code_hash: string;
  email: string;
  created_by: string | null;
  created_at: CreatedAt;
  used_at: Date | null;
  used_by: string | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  actor_id: string | null;
  /** The actor's email at the time, or `cli:<os user>`, or `server`. */
  actor: string;
  action: string;
  target_id: string | null;
  target: string | null;
  detail: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: CreatedAt;
}

export interface Database {
  api_keys: ApiKeysTable;
  invites: InvitesTable;
  audit_log: AuditLogTable;
  users: UsersTable;
  sessions: SessionsTable;
  token_ledger: TokenLedgerTable;
  token_reservations: TokenReservationsTable;
  token_charges: TokenChargesTable;
  live_sessions: LiveSessionsTable;
  datasets: DatasetsTable;
  dataset_files: DatasetFilesTable;
  jobs: JobsTable;
  job_files: JobFilesTable;
  live_detections: LiveDetectionsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
}

export type Db = Kysely<Database>;
/** Repositories take either the pool-backed instance or an open transaction. */
export type DbOrTx = Kysely<Database> | Transaction<Database>;

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type Session = Selectable<SessionsTable>;
export type LedgerEntry = Selectable<TokenLedgerTable>;
export type Reservation = Selectable<TokenReservationsTable>;
export type LiveSessionRow = Selectable<LiveSessionsTable>;
export type DatasetRow = Selectable<DatasetsTable>;
export type DatasetFileRow = Selectable<DatasetFilesTable>;
export type JobRow = Selectable<JobsTable>;
export type JobFileRow = Selectable<JobFilesTable>;
export type WebhookRow = Selectable<WebhooksTable>;
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;
