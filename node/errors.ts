// The node's input error: a request the node refuses (bad input, an unknown market or epoch, an order it
// cannot accept now), as opposed to a node fault. The control API answers it with `status`.
export class NodeInputError extends Error {
  /** A typed code: a protocol OrderErrorCode, or UNKNOWN_MARKET, UNKNOWN_EPOCH, BAD_PEER_ID, ... */
  readonly code: string;
  /** The HTTP status the control API answers with (4xx). */
  readonly status: number;
  constructor(code: string, message: string, status = 400) {
    super(message);
    this.name = "NodeInputError";
    this.code = code;
    this.status = status;
  }
}
