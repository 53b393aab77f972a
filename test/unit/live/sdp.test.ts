import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { announceAddress, assertVideoOffer, liveCodecOf } from '../../../src/live/sdp.js';

/** What Chrome offers for `addTransceiver(track, {direction: 'sendonly'})` + a data channel, candidates gathered. */
const CHROME_OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS 7d3c6e0b-0f4e-4b1d-9f43-7a8c5b9d2e11',
  'm=video 54400 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 98 99 100 101 112 113 116 117 118',
  'c=IN IP4 192.168.1.23',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:3296468397 1 udp 2122260223 192.168.1.23 54400 typ host generation 0 network-id 1 network-cost 10',
  'a=candidate:1829564213 1 udp 1686052607 198.51.100.20 54400 typ srflx raddr 192.168.1.23 rport 54400 generation 0 network-id 1 network-cost 10',
  'a=candidate:2164220797 1 tcp 1518280447 192.168.1.23 9 typ host tcptype active generation 0 network-id 1 network-cost 10',
  'a=ice-ufrag:8hhY',
  'a=ice-pwd:asd88fgpdd777uzjYhagZg6z',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08',
  'a=setup:actpass',
  'a=mid:0',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:toffset',
  'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'a=extmap:3 urn:3gpp:video-orientation',
  'a=extmap:4 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=sendonly',
  'a=msid:7d3c6e0b-0f4e-4b1d-9f43-7a8c5b9d2e11 0c6a8e0a-5d5a-4b6b-8d0e-3f2c1b0a9e8d',
  'a=rtcp-mux',
  'a=rtcp-rsize',
  'a=rtpmap:96 VP8/90000',
  'a=rtcp-fb:96 goog-remb',
  'a=rtcp-fb:96 transport-cc',
  'a=rtcp-fb:96 ccm fir',
  'a=rtcp-fb:96 nack',
  'a=rtcp-fb:96 nack pli',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:102 H264/90000',
  'a=rtcp-fb:102 goog-remb',
  'a=rtcp-fb:102 transport-cc',
  'a=rtcp-fb:102 ccm fir',
  'a=rtcp-fb:102 nack',
  'a=rtcp-fb:102 nack pli',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
  'a=rtpmap:103 rtx/90000',
  'a=fmtp:103 apt=102',
  'a=rtpmap:104 H264/90000',
  'a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f',
  'a=rtpmap:106 H264/90000',
  'a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtpmap:112 H264/90000',
  'a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f',
  'a=rtpmap:98 VP9/90000',
  'a=fmtp:98 profile-id=0',
  'a=rtpmap:39 AV1/90000',
  'a=rtpmap:116 red/90000',
  'a=rtpmap:118 ulpfec/90000',
  'a=ssrc-group:FID 2231627014 632943048',
  'a=ssrc:2231627014 cname:4TOk42mSjXCkVIa6',
  'a=ssrc:2231627014 msid:7d3c6e0b-0f4e-4b1d-9f43-7a8c5b9d2e11 0c6a8e0a-5d5a-4b6b-8d0e-3f2c1b0a9e8d',
  'a=ssrc:632943048 cname:4TOk42mSjXCkVIa6',
  'm=application 54400 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 192.168.1.23',
  'a=ice-ufrag:8hhY',
  'a=ice-pwd:asd88fgpdd777uzjYhagZg6z',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08',
  'a=setup:actpass',
  'a=mid:1',
  'a=sctp-port:5000',
  'a=max-message-size:262144',
  '',
].join('\r\n');

function validationError(f: () => unknown): AppError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('VALIDATION_FAILED');
    return err as AppError;
  }
  throw new Error('expected a VALIDATION_FAILED error');
}

describe('assertVideoOffer', () => {
  it('accepts a Chrome offer with a sendonly video section (CRLF)', () => {
    expect(() => assertVideoOffer(CHROME_OFFER)).not.toThrow();
  });

  it('accepts the same offer with bare LF line ends and with sendrecv', () => {
    expect(() => assertVideoOffer(CHROME_OFFER.replace(/\r\n/g, '\n'))).not.toThrow();
    expect(() => assertVideoOffer(CHROME_OFFER.replace('a=sendonly', 'a=sendrecv'))).not.toThrow();
  });

  it.each([[undefined], [null], [42], [{ sdp: 'v=0' }], [['v=0']], ['']])('refuses a non-string or empty offer: %o', (value) => {
    expect(validationError(() => assertVideoOffer(value)).message).toMatch(/SDP string/);
  });

  it('refuses text that is not SDP', () => {
    expect(validationError(() => assertVideoOffer('hello')).message).toMatch(/not SDP/);
    expect(validationError(() => assertVideoOffer('{"type":"offer","sdp":"v=0"}')).message).toMatch(/not SDP/);
    expect(validationError(() => assertVideoOffer(` ${CHROME_OFFER}`)).message).toMatch(/not SDP/);
  });

  it('refuses an offer without a video section', () => {
    const audioOnly = CHROME_OFFER.replace('m=video 54400 UDP/TLS/RTP/SAVPF', 'm=audio 54400 UDP/TLS/RTP/SAVPF');
    expect(validationError(() => assertVideoOffer(audioOnly)).message).toMatch(/no video section/);
  });

  it('refuses an offer that only receives video', () => {
    const recvonly = CHROME_OFFER.replace('a=sendonly', 'a=recvonly');
    expect(validationError(() => assertVideoOffer(recvonly)).message).toMatch(/does not send video/);
    const inactive = CHROME_OFFER.replace('a=sendonly', 'a=inactive');
    expect(validationError(() => assertVideoOffer(inactive)).message).toMatch(/does not send video/);
  });

  it('refuses an offer over 64 KiB', () => {
    const huge = CHROME_OFFER + `a=x-pad:${'x'.repeat(64 * 1024)}\r\n`;
    expect(validationError(() => assertVideoOffer(huge)).message).toMatch(/larger than 65536 bytes/);
  });
});

/** A werift-style answer: host candidates on two interfaces (IPv4 and IPv6) and a srflx one. */
const ANSWER = [
  'v=0',
  'o=- 1715000000 0 IN IP4 0.0.0.0',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=video 40002 UDP/TLS/RTP/SAVPF 96 102',
  'c=IN IP4 10.0.0.5',
  'a=candidate:a1b2c3 1 udp 2130706431 10.0.0.5 40002 typ host',
  'a=candidate:d4e5f6 1 udp 2130706175 172.17.0.1 40003 typ host',
  'a=candidate:0a0b0c 1 udp 2130706000 fd00::5 40004 typ host',
  'a=candidate:7f8e9d 1 udp 1694498815 198.51.100.9 40002 typ srflx raddr 10.0.0.5 rport 40002',
  'a=end-of-candidates',
  'a=recvonly',
  'a=mid:0',
  '',
].join('\r\n');

describe('announceAddress', () => {
  it('leaves the SDP untouched without an address', () => {
    expect(announceAddress(ANSWER, undefined)).toBe(ANSWER);
    expect(announceAddress(ANSWER, '')).toBe(ANSWER);
  });

  it('adds a host candidate on the announced address, same port, after each IPv4 host candidate', () => {
    const out = announceAddress(ANSWER, '203.0.113.7');
    // Each IPv4 host candidate gains a twin on the announced address (same port, priority - 1); the IPv6
    // host and the srflx candidates, and every other line, stay as they were.
    const twins: Record<string, string> = {
      'a=candidate:a1b2c3 1 udp 2130706431 10.0.0.5 40002 typ host': 'a=candidate:a1b2c3n 1 udp 2130706430 203.0.113.7 40002 typ host',
      'a=candidate:d4e5f6 1 udp 2130706175 172.17.0.1 40003 typ host': 'a=candidate:d4e5f6n 1 udp 2130706174 203.0.113.7 40003 typ host',
    };
    const expected = ANSWER.split('\r\n').flatMap((line) => (twins[line] ? [line, twins[line]] : [line]));
    expect(out.split('\r\n')).toEqual(expected);
    expect(expected.length).toBe(ANSWER.split('\r\n').length + 2);
  });

  it('keeps LF line ends and trailing candidate attributes', () => {
    const sdp = 'v=0\nm=video 9 UDP/TLS/RTP/SAVPF 96\na=candidate:1 1 udp 100 192.168.0.2 5000 typ host generation 0\n';
    expect(announceAddress(sdp, '198.51.100.1')).toBe(
      'v=0\nm=video 9 UDP/TLS/RTP/SAVPF 96\na=candidate:1 1 udp 100 192.168.0.2 5000 typ host generation 0\n' +
        'a=candidate:1n 1 udp 99 198.51.100.1 5000 typ host generation 0\n',
    );
  });

  it('adds nothing for a candidate already on the announced address', () => {
    const sdp = 'v=0\r\na=candidate:1 1 udp 100 203.0.113.7 5000 typ host\r\n';
    expect(announceAddress(sdp, '203.0.113.7')).toBe(sdp);
  });
});

describe('liveCodecOf', () => {
  it('knows VP8 and H.264 in any case, nothing else', () => {
    expect(liveCodecOf('video/VP8')).toBe('vp8');
    expect(liveCodecOf('video/vp8')).toBe('vp8');
    expect(liveCodecOf('video/H264')).toBe('h264');
    expect(liveCodecOf('VIDEO/h264')).toBe('h264');
    expect(liveCodecOf('video/VP9')).toBeUndefined();
    expect(liveCodecOf('video/AV1')).toBeUndefined();
    expect(liveCodecOf('video/rtx')).toBeUndefined();
    expect(liveCodecOf('audio/opus')).toBeUndefined();
    expect(liveCodecOf('')).toBeUndefined();
  });
});
