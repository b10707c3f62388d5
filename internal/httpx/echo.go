package httpx

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// ErrorHandler returns an echo.HTTPErrorHandler that renders every error as
// problem+json and logs the cause (never the request body) with the request
// id. Echo's own errors (404 route, 405, 413) are mapped too.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var he *Error
		var ee *echo.HTTPError
		switch {
		case errors.As(err, &he):
		case errors.As(err, &ee):
			he = fromEcho(ee)
		default:
			he = Internal(err)
		}
		rid := c.Response().Header().Get(echo.HeaderXRequestID)
		level := slog.LevelDebug
		if he.Status >= 500 {
			level = slog.LevelError
		}
		log.Log(c.Request().Context(), level, "request failed",
			"request_id", rid, "method", c.Request().Method, "path", c.Path(),
			"status", he.Status, "problem", he.Kind, "cause", errString(he.Cause))
		for k, vs := range he.Header {
			for _, v := range vs {
				c.Response().Header().Add(k, v)
			}
		}
		if he.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(he.RetryAfter))
		}
		p := he.Problem()
		p.RequestID = rid
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(he.Status)
			return
		}
		WriteProblem(c.Response(), p)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func fromEcho(ee *echo.HTTPError) *Error {
	msg := http.StatusText(ee.Code)
	if s, ok := ee.Message.(string); ok && s != "" {
		msg = s
	}
	e := &Error{Status: ee.Code, Detail: msg, Cause: ee.Internal}
	switch ee.Code {
	case http.StatusNotFound:
		e.Kind, e.Detail = "not-found", "no such route"
	case http.StatusMethodNotAllowed:
		e.Kind = "method-not-allowed"
	case http.StatusRequestEntityTooLarge:
		e.Kind, e.Detail = "too-large", "request body too large"
	case http.StatusUnsupportedMediaType:
		e.Kind = "unsupported-media-type"
	case http.StatusTooManyRequests:
		e.Kind = "rate-limited"
	default:
		if ee.Code >= 500 {
			return Internal(ee)
		}
		e.Kind = "invalid-request"
	}
	return e
}

// AdminAuth requires "Authorization: Bearer <token>" equal to token,
// compared in constant time. An empty token refuses every request.
func AdminAuth(token string) echo.MiddlewareFunc {
	want := []byte(token)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !IsAdmin(c.Request(), want) {
				return Unauthorized("a valid admin bearer token is required")
			}
			return next(c)
		}
	}
}

// IsAdmin reports whether r carries the admin bearer token.
func IsAdmin(r *http.Request, token []byte) bool {
	if len(token) == 0 {
		return false
	}
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := []byte(strings.TrimSpace(h[len(prefix):]))
	return subtle.ConstantTimeCompare(got, token) == 1
}

// AsErrorStatus is the status code err will be rendered with.
func AsErrorStatus(err error) int {
	var he *Error
	if errors.As(err, &he) {
		return he.Status
	}
	var ee *echo.HTTPError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return http.StatusInternalServerError
}
