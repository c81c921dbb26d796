// One deadline per upstream request for its response headers, the wait for a connection included (undici interceptor).
import { errors, type Dispatcher } from 'undici'

/**
 * An undici interceptor (`agent.compose(responseDeadline(ms))`): a request with no response headers `timeoutMs` after
 * it was dispatched fails with undici's HeadersTimeoutError, which reply-from reports as a gateway timeout. undici's
 * own `headersTimeout` starts only once the request is on a connection; this deadline also counts the wait for one.
 * A request still waiting fails at once and is aborted the moment it would start, so the upstream never receives it;
 * a request already sent is aborted with its connection. From the moment a streamed upload starts, the wait is undici's
 * headersTimeout (the same deadline, which does not count the time the caller takes to send the body). Response bodies
 * (SSE included) are not timed here.
 */
export function responseDeadline (timeoutMs: number): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (options, handler) => {
    let started: Dispatcher.DispatchController | undefined
    let expired: Error | undefined
    const timer = setTimeout(() => {
      expired = new errors.HeadersTimeoutError()
      if (started !== undefined) started.abort(expired)
      // No controller exists before the start; undici's own dns interceptor reports its early failures the same way.
      else handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, expired)
    }, timeoutMs)
    return dispatch(options, {
      onRequestStart (controller, context) {
        if (expired !== undefined) {
          controller.abort(expired)
          return
        }
        started = controller
        // An upload still being sent is not the upstream's delay: undici's own headersTimeout takes over, which waits
        // while the body flows, starts again once it has been sent, and fires when the upstream stops reading it.
        const body = options.body as { pipe?: unknown, readableEnded?: boolean } | null | undefined
        if (typeof body?.pipe === 'function' && body.readableEnded !== true) clearTimeout(timer)
        handler.onRequestStart?.(controller, context)
      },
      onResponseStart (controller, statusCode, headers, statusMessage) {
        clearTimeout(timer)
        handler.onResponseStart?.(controller, statusCode, headers, statusMessage)
      },
      onResponseData (controller, chunk) {
        handler.onResponseData?.(controller, chunk)
      },
      onResponseEnd (controller, trailers) {
        handler.onResponseEnd?.(controller, trailers)
      },
      onResponseError (controller, error) {
        clearTimeout(timer)
        // A request given up while it waited has been answered already: its later abort is nobody's news.
        if (started !== undefined || expired === undefined) handler.onResponseError?.(controller, error)
      }
    })
  }
}
