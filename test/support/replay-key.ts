/**
 * The key the replay fixtures are captured under (capture.test.ts) and replayed with
 * (replay.test.ts): histories recorded with the payload codec keep their payloads encrypted, as
 * Temporal stores them, so replay goes through the codec as a production worker does. A test key,
 * committed on purpose: the fixtures hold only test data.
 */
export const REPLAY_SECRET_KEYS = 'replay:LaUFIuuhFVnVYg5V0GZZ963gT7iFdob++ePWagdZb5I=';
