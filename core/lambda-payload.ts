/**
 * Lambda's invocation payload limit, shared by the functions (which hold their responses
 * under it), `sluice dev` (which refuses the requests Lambda would) and the SDK (which
 * never sends one). Source: AWS Lambda quotas, "Invocation payload (request and response):
 * 6 MB each for synchronous" — 6,291,456 bytes as Lambda counts them; a Function URL
 * (payload 2.0) hands a binary request body to the function base64-encoded in the event.
 */

/** Lambda's limit for a synchronous request event and response document, in bytes. */
export const LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024;

/**
 * Room a request event keeps for what is not its body (headers, path, query string,
 * request context) within {@link LAMBDA_PAYLOAD_BYTES}.
 */
export const REQUEST_EVENT_RESERVE = 64 * 1024;

/**
 * The largest binary request body that reaches a function: its base64 (4/3) within
 * {@link LAMBDA_PAYLOAD_BYTES} less {@link REQUEST_EVENT_RESERVE}. 4,669,440 bytes.
 */
export const MAX_BINARY_REQUEST_BYTES = Math.floor(((LAMBDA_PAYLOAD_BYTES - REQUEST_EVENT_RESERVE) * 3) / 4);
