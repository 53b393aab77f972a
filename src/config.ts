/**
 * The only reader of `process.env`. Every setting is parsed, validated and frozen here; a bad value stops
 * the process at start with a message that names the variable. `.env.example` lists the same variables.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { parseTokenAmount } from './tokens/amount.js';

export interface Config {
  /** HTTP port (PORT, default 8080; 0 picks a free port). */
  readonly port: number;
  /** Interface to listen on (HOST, default 0.0.0.0). */
  readonly host: string;
  /** Where the embedded database and uploads live (DATA_DIR, default ./data). */
  readonly dataDir: string;
  /** Where live sessions are recorded (RECORDINGS_DIR, default ./recordings). */
  readonly recordingsDir: string;
  /** External PostgreSQL (DATABASE_URL); unset means an embedded PostgreSQL under DATA_DIR. */
  readonly databaseUrl: string | undefined;
  /**
   * Redis (REDIS_URL) for the job queue and for several servers working as one (session ownership, forwarding,
   * shared limits); unset means the queue lives in PostgreSQL and this process works alone.
   */
  readonly redisUrl: string | undefined;
  /** Where clients reach this server (PUBLIC_URL, e.g. https://lookout-2.example.com): a full server sends new sessions to another's. */
  readonly publicUrl: string | undefined;
  /** On SIGTERM, how long running live sessions may go on before they are ended (DRAIN_TIMEOUT_S, default 30). */
  readonly drainTimeoutS: number;
  /** pino level (LOG_LEVEL, default info). */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** LOG_FORMAT: `auto` (default: readable on a terminal, JSON lines otherwise), `json` or `pretty`. */
  readonly logFormat: 'auto' | 'json' | 'pretty';
  /** Largest accepted JSON body in bytes (BODY_LIMIT_BYTES, default 1 MiB); larger gets 413. */
  readonly bodyLimitBytes: number;
  /** Sliding session lifetime in days (SESSION_TTL_DAYS, default 30). */
  readonly sessionTtlDays: number;
  /** Mark the session cookie Secure (COOKIE_SECURE, default false; set true behind HTTPS). */
  readonly cookieSecure: boolean;
  /** Extra origins allowed to send cookie-authenticated writes (ALLOWED_ORIGINS, comma separated). */
  readonly allowedOrigins: readonly string[];
  /** Trust X-Forwarded-For for the client address (TRUST_PROXY, default false). */
  readonly trustProxy: boolean;
  /** First-start admin (ADMIN_EMAIL + ADMIN_PASSWORD, both or neither). */
  readonly admin: { readonly email: string; readonly password: string } | undefined;
  /**
   * Prices and grants in milli-tokens (SIGNUP_TOKENS, formerly INITIAL_TOKENS; PRICE_IMAGE, PRICE_VIDEO_FRAME, PRICE_LIVE_FRAME, and
   * PRICE_CLASSIFIED_CROP: each detection the classifier stage classifies, on top of its image or frame, default 0).
   */
  readonly tokens: {
    readonly initialMilli: number;
    readonly priceImageMilli: number;
    readonly priceVideoFrameMilli: number;
    readonly priceLiveFrameMilli: number;
    readonly priceCropMilli: number;
  };
  /**
   * Sign-in limits per window (LOGIN_WINDOW_S 900): failures per account from one address (LOGIN_MAX_PER_ACCOUNT 10),
   * attempts per address (LOGIN_MAX_PER_ADDRESS 30).
   */
  readonly loginLimit: { readonly perAccount: number; readonly perAddress: number; readonly windowMs: number };
  /**
   * Who may create an account (REGISTRATION: open, closed, or invite: with a one-time code from an admin), and
   * sign-ups per client address per window (SIGNUP_MAX_PER_ADDRESS 10 per SIGNUP_WINDOW_S 3600).
   */
  readonly registration: { readonly mode: 'open' | 'closed' | 'invite'; readonly perAddress: number; readonly windowMs: number };
  /**
   * Attempts per minute per user (RATE_LIMIT_LIVE 20: live.offer and WHIP; RATE_LIMIT_UPLOADS 120; RATE_LIMIT_JOBS
   * 30); per client address three times as many.
   */
  readonly rateLimits: { readonly live: number; readonly uploads: number; readonly jobs: number };
  /**
   * WebSockets: open sockets per user (WS_MAX_PER_USER, default 16; past it a new socket is closed with 1008) and
   * messages per socket per second (WS_MESSAGES_PER_S, default 20, counted per 1 s window; past it a message gets
   * a RATE_LIMITED `error`, and a socket that sends twice the limit in a window is closed with 1008). Sockets
   * whose sign-in session has expired are found and closed every WS_SIGNIN_CHECK_S (default 30); a logout closes
   * its sockets at once.
   */
  readonly ws: { readonly maxPerUser: number; readonly messagesPerS: number; readonly signInCheckMs: number };
  /**
   * HTTPS beside plain HTTP (phones give the camera only to secure pages): on HTTPS_PORT (default 8443; 0 turns it
   * off), with TLS_CERT + TLS_KEY (PEM files, reloaded on SIGHUP) or, without them, a self-signed certificate made at
   * first start under DATA_DIR/tls and renewed before it expires.
   */
  readonly https: { readonly port: number; readonly certFile: string | undefined; readonly keyFile: string | undefined };
  /**
   * This server's name among servers sharing a database (NODE_ID; default `<hostname>:<PORT>`, or a random one
   * with PORT=0). Live sessions carry it: at start a server closes at once the sessions its previous run left open.
   */
  readonly nodeId: string;
  /** Time allowed for in-flight work at shutdown (SHUTDOWN_GRACE_MS, default 10000). */
  readonly shutdownGraceMs: number;
  /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; unset, it is open (default). */
  readonly metricsToken: string | undefined;
  /** `npm run worker` writes the time here every 10 s while its database and queue answer (WORKER_HEARTBEAT_FILE; off by default). */
  readonly workerHeartbeatFile: string | undefined;
  /** Model manifests and ONNX files (MODELS_DIR, default ./models). */
  readonly modelsDir: string;
  /** ffmpeg binary override (FFMPEG_PATH); otherwise a system ffmpeg, then the bundled one. */
  readonly ffmpegPath: string | undefined;
  /** ffprobe binary override (FFPROBE_PATH); otherwise the one beside ffmpeg, one on PATH, then the bundled one. */
  readonly ffprobePath: string | undefined;
  /** ONNX Runtime: execution providers in order (ORT_PROVIDERS, default cuda,cpu), threads (0 = ORT's choice). */
  readonly onnx: {
    readonly providers: readonly string[];
    readonly intraOpThreads: number;
    readonly interOpThreads: number;
    /** Worker threads, each with its own session, per model (MODEL_WORKERS: a count, default 1, or auto). */
    readonly workers: number | 'auto';
    /** Model used when a request names none (DEFAULT_MODEL; default: the manifest marked default). */
    readonly defaultModel: string | undefined;
    /** Load and warm every model at start (PRELOAD_MODELS, default true) instead of on first use. */
    readonly preload: boolean;
  };
  /** Dataset uploads: what is accepted and how much (sizes in bytes). */
  readonly uploads: {
    /** One upload request's body (UPLOAD_MAX_BYTES, default 1 GiB); crossing it answers 413 at once. */
    readonly maxBytes: number;
    /** Pixels of one image, read from its header before decoding (IMAGE_MAX_PIXELS, default 50,000,000). */
    readonly imageMaxPixels: number;
    /** Frames of one video (VIDEO_MAX_FRAMES, default 108,000: an hour at 30 fps) and its frame size (VIDEO_MAX_PIXELS, default 3840×2160). */
    readonly videoMaxFrames: number;
    readonly videoMaxPixels: number;
    /** Wall-clock limit for one ffmpeg/ffprobe run on one file (MEDIA_TIMEOUT_S, default 600). */
    readonly mediaTimeoutMs: number;
    /** Zip archives: files in one (ZIP_MAX_ENTRIES, default 1000), bytes actually unpacked (ZIP_MAX_BYTES, default 2 GiB), compression ratio of an entry (ZIP_MAX_RATIO, default 100). */
    readonly zipMaxEntries: number;
    readonly zipMaxBytes: number;
    readonly zipMaxRatio: number;
  };
  /**
   * One-call inference (POST /api/v1/infer, the Deepstack endpoint): requests at once (INFER_CONCURRENCY, default 2;
   * past it 503 with Retry-After), bytes in one request (INFER_MAX_BYTES, default 32 MiB), and the model the
   * Deepstack endpoint runs (DEEPSTACK_MODEL; default: the default model).
   */
  readonly infer: { readonly concurrency: number; readonly maxBytes: number; readonly deepstackModel: string | undefined };
  /**
   * Webhooks: private, loopback and link-local targets allowed (WEBHOOKS_ALLOW_PRIVATE, default false); the first
   * retry's delay (WEBHOOKS_RETRY_BASE_MS, default 5000: each next one 4× longer with ±25% jitter, 7 attempts in
   * all, the last at least 85 min after the first); deliveries in a row that fail every attempt before the webhook
   * is disabled and its owner told (WEBHOOKS_DISABLE_AFTER, default 3); deliveries sent at once per process
   * (WEBHOOKS_CONCURRENCY, default 8). Each attempt has 5 s.
   */
  readonly webhooks: { readonly allowPrivate: boolean; readonly retryBaseMs: number; readonly disableAfter: number; readonly concurrency: number; readonly timeoutMs: number };
  /** A balance.low event goes out when a balance falls below BALANCE_LOW_TOKENS (default 5; 0 turns it off). */
  readonly balanceLowMilli: number;
  /**
   * Retention: recordings of live sessions that ended more than RETENTION_RECORDINGS_DAYS ago, and results (a
   * finished job's results and annotated files, a live session's stored detections) older than
   * RETENTION_RESULTS_DAYS, are deleted by a sweep every RETENTION_SWEEP_S (default 3600; also at start). 0 days
   * (the default) keeps them; fractions of a day are allowed.
   */
  readonly retention: { readonly recordingsDays: number; readonly resultsDays: number; readonly sweepMs: number };
  /** Tracking in live sessions and videos: how long a lost track is kept for its object to come back (TRACK_LOST_MS, default 1000). */
  readonly tracking: { readonly lostMs: number };
  /** Batch inference jobs (BullMQ). */
  readonly jobs: {
    /** Run a job worker inside the server process (JOBS_INLINE_WORKER, default true); `npm run worker` runs more. */
    readonly inlineWorker: boolean;
    /** Jobs one worker process runs at once (JOBS_CONCURRENCY, default 1). */
    readonly concurrency: number;
    /** How long a worker's claim on a job lasts without renewal (JOBS_LOCK_MS, default 30000): a crashed worker's job is handed to another after about this long. */
    readonly lockMs: number;
    /** BullMQ queue name (JOBS_QUEUE, default lookout-jobs). */
    readonly queueName: string;
    /**
     * Run a job's items as one inference batch when the model takes one (JOBS_BATCH): `auto` (default: on GPU
     * providers only; on a CPU a batch is no faster and a new batch size is slow the first times), `on` or `off`.
     */
    readonly batch: 'auto' | 'on' | 'off';
  };
  /** Live WebRTC sessions. */
  readonly live: {
    /** Default per-frame latency budget (LIVE_BUDGET_MS, default 100); a session may ask for its own. */
    readonly budgetMs: number;
    /** A session with no RTP for this long ends as disconnected (LIVE_IDLE_TIMEOUT_S, default 10). */
    readonly idleTimeoutS: number;
    /** Concurrent sessions on this server (LIVE_MAX_SESSIONS, default 8) and per user (LIVE_MAX_SESSIONS_PER_USER, default 2). */
    readonly maxSessions: number;
    readonly maxSessionsPerUser: number;
    /** Concurrent sessions on all servers together (LIVE_MAX_SESSIONS_TOTAL, default 0: no limit); needs REDIS_URL to span servers. */
    readonly maxSessionsTotal: number;
    /** Record sessions unless the client says otherwise (LIVE_RECORD, default true). */
    readonly record: boolean;
    /** STUN/TURN servers given to clients and used by the server (LIVE_ICE_SERVERS, LIVE_TURN_USERNAME, LIVE_TURN_CREDENTIAL). */
    readonly iceServers: readonly IceServer[];
    /** Public IPv4 address announced in answers for a server behind 1:1 NAT (LIVE_ANNOUNCED_ADDRESS). */
    readonly announcedAddress: string | undefined;
    /** UDP ports for ICE, e.g. 40000-40100 to open in a firewall (LIVE_PORT_RANGE; default: any). */
    readonly portRange: readonly [number, number] | undefined;
    /**
     * Frames of several sessions on one model run as one batch (models with a batch dimension only):
     * LIVE_BATCH `auto` (default: on for GPU providers, off on the CPU), `on` or `off`; at most
     * LIVE_BATCH_MAX_SIZE frames (default 8), waiting at most LIVE_BATCH_MAX_WAIT_MS (default 4) for them.
     */
    readonly batch: { readonly mode: 'auto' | 'on' | 'off'; readonly maxSize: number; readonly maxWaitMs: number };
  };
}

export interface IceServer {
  readonly urls: string;
  readonly username?: string;
  readonly credential?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return def;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(`${name} must be an integer, got "${raw}".`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}.`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], def: T): T {
  const raw = read(env, name);
  if (raw === undefined) return def;
  const v = raw.toLowerCase() as T;
  if (!values.includes(v)) throw new ConfigError(`${name} must be one of ${values.join(', ')}, got "${raw}".`);
  return v;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return def;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}".`);
}

/** A number of days, 0 (keep for ever, the default) or more, fractions allowed. */
function days(env: Env, name: string): number {
  const raw = read(env, name);
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(n) || n > 36_500) throw new ConfigError(`${name} must be a number of days from 0 (keep) to 36500, got "${raw}".`);
  return n;
}

function tokens(env: Env, name: string, def: string, allowZero: boolean): number {
  const raw = read(env, name) ?? def;
  const milli = parseTokenAmount(raw);
  if (milli === undefined || (!allowZero && milli === 0)) {
    throw new ConfigError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} token amount with at most 3 decimals, got "${raw}".`);
  }
  return milli;
}

function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL.`); // the value may hold a password: never echo it
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}.`);
  }
  return raw;
}

function queueName(env: Env): string {
  const name = read(env, 'JOBS_QUEUE') ?? 'lookout-jobs';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new ConfigError(`JOBS_QUEUE must be 1-64 letters, digits, '-' or '_', got "${name}".`);
  return name;
}

const KNOWN_PROVIDERS = ['cuda', 'tensorrt', 'cpu'];

function providers(env: Env): string[] {
  const list = (read(env, 'ORT_PROVIDERS') ?? 'cuda,cpu')
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  const bad = list.find((p) => !KNOWN_PROVIDERS.includes(p));
  if (bad !== undefined || list.length === 0) {
    throw new ConfigError(`ORT_PROVIDERS must list some of ${KNOWN_PROVIDERS.join(', ')} (comma separated), got "${bad ?? ''}".`);
  }
  return list;
}

function iceServers(env: Env): IceServer[] {
  const urls = (read(env, 'LIVE_ICE_SERVERS') ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  const username = read(env, 'LIVE_TURN_USERNAME');
  const credential = read(env, 'LIVE_TURN_CREDENTIAL');
  return urls.map((u) => {
    if (!/^(stun|stuns|turn|turns):[^\s]+$/i.test(u)) {
      throw new ConfigError(`LIVE_ICE_SERVERS holds "${u}"; each entry must be a stun:, stuns:, turn: or turns: URL.`);
    }
    const isTurn = u.toLowerCase().startsWith('turn');
    if (isTurn && (username === undefined || !credential)) {
      throw new ConfigError('A turn: server in LIVE_ICE_SERVERS needs LIVE_TURN_USERNAME and LIVE_TURN_CREDENTIAL.');
    }
    return isTurn ? { urls: u, username: username!, credential: credential! } : { urls: u };
  });
}

function portRange(env: Env): [number, number] | undefined {
  const raw = read(env, 'LIVE_PORT_RANGE');
  if (raw === undefined) return undefined;
  const m = /^(\d+)-(\d+)$/.exec(raw);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || lo < 1024 || hi > 65535 || hi <= lo) {
    throw new ConfigError(`LIVE_PORT_RANGE must look like 40000-40100 (1024-65535, low < high), got "${raw}".`);
  }
  return [lo, hi];
}

function ipv4(env: Env, name: string): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  const parts = raw.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new ConfigError(`${name} must be an IPv4 address like 203.0.113.7, got "${raw}".`);
  }
  return raw;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const logLevel = read(env, 'LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}".`);
  }
  const adminEmail = read(env, 'ADMIN_EMAIL');
  const adminPassword = env['ADMIN_PASSWORD'];
  if ((adminEmail === undefined) !== (adminPassword === undefined || adminPassword === '')) {
    throw new ConfigError('ADMIN_EMAIL and ADMIN_PASSWORD must be set together.');
  }
  const allowedOrigins = (read(env, 'ALLOWED_ORIGINS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((o) => {
      try {
        return new URL(o).origin;
      } catch {
        throw new ConfigError(`ALLOWED_ORIGINS holds "${o}", which is not an origin like https://example.com.`);
      }
    });

  const port = int(env, 'PORT', 8080, 0, 65535);
  const nodeId = read(env, 'NODE_ID') ?? `${os.hostname()}:${port === 0 ? randomUUID().slice(0, 8) : port}`;
  if (nodeId.length > 200) throw new ConfigError('NODE_ID must be at most 200 characters.');
  const certFile = read(env, 'TLS_CERT');
  const keyFile = read(env, 'TLS_KEY');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError('TLS_CERT and TLS_KEY must be set together.');
  const config: Config = {
    https: {
      port: int(env, 'HTTPS_PORT', 8443, 0, 65535),
      certFile: certFile === undefined ? undefined : path.resolve(cwd, certFile),
      keyFile: keyFile === undefined ? undefined : path.resolve(cwd, keyFile),
    },
    nodeId,
    port,
    host: read(env, 'HOST') ?? '0.0.0.0',
    dataDir: path.resolve(cwd, read(env, 'DATA_DIR') ?? './data'),
    recordingsDir: path.resolve(cwd, read(env, 'RECORDINGS_DIR') ?? './recordings'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    publicUrl: url(env, 'PUBLIC_URL', ['http:', 'https:'])?.replace(/\/+$/, ''),
    drainTimeoutS: int(env, 'DRAIN_TIMEOUT_S', 30, 0, 3600),
    logLevel: logLevel as Config['logLevel'],
    logFormat: oneOf(env, 'LOG_FORMAT', ['auto', 'json', 'pretty'] as const, 'auto'),
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    sessionTtlDays: int(env, 'SESSION_TTL_DAYS', 30, 1, 365),
    cookieSecure: bool(env, 'COOKIE_SECURE', false),
    allowedOrigins,
    trustProxy: bool(env, 'TRUST_PROXY', false),
    admin: adminEmail !== undefined && adminPassword ? { email: adminEmail, password: adminPassword } : undefined,
    tokens: {
      // SIGNUP_TOKENS; INITIAL_TOKENS is its older name, still read when SIGNUP_TOKENS is not set.
      initialMilli: tokens(env, read(env, 'SIGNUP_TOKENS') === undefined && read(env, 'INITIAL_TOKENS') !== undefined ? 'INITIAL_TOKENS' : 'SIGNUP_TOKENS', '10', true),
      priceImageMilli: tokens(env, 'PRICE_IMAGE', '0.75', false),
      priceVideoFrameMilli: tokens(env, 'PRICE_VIDEO_FRAME', '0.5', false),
      priceLiveFrameMilli: tokens(env, 'PRICE_LIVE_FRAME', '0.5', false),
      priceCropMilli: tokens(env, 'PRICE_CLASSIFIED_CROP', '0', true),
    },
    ws: {
      maxPerUser: int(env, 'WS_MAX_PER_USER', 16, 1, 10_000),
      messagesPerS: int(env, 'WS_MESSAGES_PER_S', 20, 1, 1_000_000),
      signInCheckMs: int(env, 'WS_SIGNIN_CHECK_S', 30, 1, 3600) * 1000,
    },
    loginLimit: {
      perAccount: int(env, 'LOGIN_MAX_PER_ACCOUNT', 10, 1, 1_000_000),
      perAddress: int(env, 'LOGIN_MAX_PER_ADDRESS', 30, 1, 1_000_000),
      windowMs: int(env, 'LOGIN_WINDOW_S', 900, 1, 86_400) * 1000,
    },
    registration: {
      mode: oneOf(env, 'REGISTRATION', ['open', 'closed', 'invite'] as const, 'open'),
      perAddress: int(env, 'SIGNUP_MAX_PER_ADDRESS', 10, 1, 1_000_000),
      windowMs: int(env, 'SIGNUP_WINDOW_S', 3600, 1, 86_400) * 1000,
    },
    rateLimits: {
      live: int(env, 'RATE_LIMIT_LIVE', 20, 1, 1_000_000),
      uploads: int(env, 'RATE_LIMIT_UPLOADS', 120, 1, 1_000_000),
      jobs: int(env, 'RATE_LIMIT_JOBS', 30, 1, 1_000_000),
    },
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    metricsToken: read(env, 'METRICS_TOKEN'),
    workerHeartbeatFile: read(env, 'WORKER_HEARTBEAT_FILE'),
    modelsDir: path.resolve(cwd, read(env, 'MODELS_DIR') ?? './models'),
    ffmpegPath: read(env, 'FFMPEG_PATH'),
    ffprobePath: read(env, 'FFPROBE_PATH'),
    onnx: {
      providers: providers(env),
      intraOpThreads: int(env, 'ORT_INTRA_OP_THREADS', 0, 0, 256),
      interOpThreads: int(env, 'ORT_INTER_OP_THREADS', 0, 0, 256),
      workers: read(env, 'MODEL_WORKERS')?.toLowerCase() === 'auto' ? 'auto' : int(env, 'MODEL_WORKERS', 1, 1, 16),
      defaultModel: read(env, 'DEFAULT_MODEL'),
      preload: bool(env, 'PRELOAD_MODELS', true),
    },
    uploads: {
      maxBytes: int(env, 'UPLOAD_MAX_BYTES', 1024 ** 3, 1024, 64 * 1024 ** 3),
      imageMaxPixels: int(env, 'IMAGE_MAX_PIXELS', 50_000_000, 1, 1_000_000_000),
      videoMaxFrames: int(env, 'VIDEO_MAX_FRAMES', 108_000, 1, 100_000_000),
      videoMaxPixels: int(env, 'VIDEO_MAX_PIXELS', 3840 * 2160, 1, 1_000_000_000),
      mediaTimeoutMs: int(env, 'MEDIA_TIMEOUT_S', 600, 1, 86_400) * 1000,
      zipMaxEntries: int(env, 'ZIP_MAX_ENTRIES', 1000, 1, 1_000_000),
      zipMaxBytes: int(env, 'ZIP_MAX_BYTES', 2 * 1024 ** 3, 1024, 1024 ** 4),
      zipMaxRatio: int(env, 'ZIP_MAX_RATIO', 100, 2, 100_000),
    },
    infer: {
      concurrency: int(env, 'INFER_CONCURRENCY', 2, 1, 256),
      maxBytes: int(env, 'INFER_MAX_BYTES', 32 * 1024 ** 2, 1024, 1024 ** 3),
      deepstackModel: read(env, 'DEEPSTACK_MODEL'),
    },
    tracking: { lostMs: int(env, 'TRACK_LOST_MS', 1000, 0, 600_000) },
    webhooks: {
      allowPrivate: bool(env, 'WEBHOOKS_ALLOW_PRIVATE', false),
      retryBaseMs: int(env, 'WEBHOOKS_RETRY_BASE_MS', 5000, 1, 3_600_000),
      disableAfter: int(env, 'WEBHOOKS_DISABLE_AFTER', 3, 1, 1000),
      concurrency: int(env, 'WEBHOOKS_CONCURRENCY', 8, 1, 256),
      timeoutMs: 5000,
    },
    balanceLowMilli: tokens(env, 'BALANCE_LOW_TOKENS', '5', true),
    retention: {
      recordingsDays: days(env, 'RETENTION_RECORDINGS_DAYS'),
      resultsDays: days(env, 'RETENTION_RESULTS_DAYS'),
      sweepMs: int(env, 'RETENTION_SWEEP_S', 3600, 1, 7 * 86_400) * 1000,
    },
    jobs: {
      inlineWorker: bool(env, 'JOBS_INLINE_WORKER', true),
      concurrency: int(env, 'JOBS_CONCURRENCY', 1, 1, 64),
      lockMs: int(env, 'JOBS_LOCK_MS', 30_000, 1000, 600_000),
      batch: oneOf(env, 'JOBS_BATCH', ['auto', 'on', 'off'] as const, 'auto'),
      queueName: queueName(env),
    },
    live: {
      budgetMs: int(env, 'LIVE_BUDGET_MS', 100, 5, 10_000),
      idleTimeoutS: int(env, 'LIVE_IDLE_TIMEOUT_S', 10, 1, 3600),
      maxSessions: int(env, 'LIVE_MAX_SESSIONS', 8, 1, 1000),
      maxSessionsPerUser: int(env, 'LIVE_MAX_SESSIONS_PER_USER', 2, 1, 1000),
      maxSessionsTotal: int(env, 'LIVE_MAX_SESSIONS_TOTAL', 0, 0, 100_000),
      record: bool(env, 'LIVE_RECORD', true),
      iceServers: iceServers(env),
      announcedAddress: ipv4(env, 'LIVE_ANNOUNCED_ADDRESS'),
      portRange: portRange(env),
      batch: {
        mode: oneOf(env, 'LIVE_BATCH', ['auto', 'on', 'off'] as const, 'auto'),
        maxSize: int(env, 'LIVE_BATCH_MAX_SIZE', 8, 1, 64),
        maxWaitMs: int(env, 'LIVE_BATCH_MAX_WAIT_MS', 4, 0, 1000),
      },
    },
  };
  return Object.freeze(config);
}
