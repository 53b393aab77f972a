// The one WebSocket of a signed-in page: authenticated by the session cookie at the upgrade. Reconnects with
// backoff and subscribes again to the topics it had; views listen by message type.

export class Socket {
  /** @type {WebSocket | null} */
  #ws = null;
  /** @type {Map<string, Set<(msg: any) => void>>} */
  #listeners = new Map();
  /** @type {Set<string>} */
  #topics = new Set();
  #wanted = false;
  #attempt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retry;
  /** @type {Array<string>} */
  #pending = [];

  get open() {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  connect() {
    this.#wanted = true;
    if (this.#ws) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`;
    const ws = new WebSocket(url);
    this.#ws = ws;
    ws.onopen = () => {
      this.#attempt = 0;
      for (const topic of this.#topics) ws.send(JSON.stringify({ type: 'subscribe', topic }));
      for (const text of this.#pending.splice(0)) ws.send(text);
      this.#emit({ type: 'socket.open' });
    };
    ws.onmessage = (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      if (msg && typeof msg.type === 'string') this.#emit(msg);
    };
    ws.onclose = (e) => {
      this.#ws = null;
      this.#emit({ type: 'socket.closed', code: e.code, reason: e.reason });
      if (!this.#wanted) return;
      const delay = Math.min(10_000, 500 * 2 ** this.#attempt++);
      this.#retry = setTimeout(() => this.connect(), delay);
    };
  }

  close() {
    this.#wanted = false;
    clearTimeout(this.#retry);
    this.#topics.clear();
    this.#pending = [];
    this.#ws?.close(1000, 'signed out');
    this.#ws = null;
  }

  /** Sends now, or as soon as the socket opens. */
  send(msg) {
    const text = JSON.stringify(msg);
    if (this.open) this.#ws?.send(text);
    else {
      this.#pending.push(text);
      this.connect();
    }
  }

  /** Subscribes to a topic for as long as the returned function is not called. */
  subscribe(topic) {
    this.#topics.add(topic);
    if (this.open) this.#ws?.send(JSON.stringify({ type: 'subscribe', topic }));
    else this.connect();
    return () => {
      this.#topics.delete(topic);
      if (this.open) this.#ws?.send(JSON.stringify({ type: 'unsubscribe', topic }));
    };
  }

  /** Listens to messages of one type; returns the function that stops listening. */
  on(type, fn) {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  #emit(msg) {
    for (const fn of [...(this.#listeners.get(msg.type) ?? [])]) {
      try {
        fn(msg);
      } catch (err) {
        console.error('socket listener failed', err);
      }
    }
  }
}
