// Signalling helpers of the Live page: wait for ICE gathering, send a live.offer and wait for its answer.

/** Resolves when the browser has gathered its ICE candidates (they go in the offer), or after `timeoutMs`. */
export function iceGathered(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => pc.iceGatheringState === 'complete' && done();
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** Sends a live.offer and waits for its answer, or for the error the server answers it with. */
export function offer(socket, msg) {
  return new Promise((resolve, reject) => {
    const offs = [
      socket.on('live.answer', (m) => {
        offs.forEach((off) => off());
        clearTimeout(timer);
        resolve(m);
      }),
      socket.on('error', (m) => {
        if (m.re !== 'live.offer') return;
        offs.forEach((off) => off());
        clearTimeout(timer);
        reject(Object.assign(new Error(m.message), { code: m.code }));
      }),
    ];
    const timer = setTimeout(() => {
      offs.forEach((off) => off());
      reject(new Error('The server did not answer within 20 seconds. Try again.'));
    }, 20_000);
    socket.send(msg);
  });
}
