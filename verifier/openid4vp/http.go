package openid4vp

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/qrcode"
)

// Register adds the verifier's OpenID4VP routes to g. admin guards the
// session API (an admin or a registered client); the request URI, the
// response URI, the QR codes and the same-device result are public.
//
//	POST /verifier/sessions                  admin   create a session (201)
//	GET  /verifier/sessions/:id              admin   status
//	GET  /verifier/sessions/:id/events       admin   status as server-sent events
//	GET  /verifier/sessions/:id/qr.png|.svg  public  the authorization request as a QR code
//	POST /verifier/sessions/:id/result       public  status, for the holder of a response_code
//	GET  /verifier/requests/:rid             public  signed request object
//	POST /verifier/requests/:rid             public  same, request_uri_method=post
//	POST /verifier/responses/:rid            public  the wallet's response (direct_post, direct_post.jwt)
//
// The request and response URIs answer CORS requests from any origin,
// and their preflights (walletCORS), for browser-based wallets.
func (s *Service) Register(g *echo.Group, admin echo.MiddlewareFunc) {
	g.POST(PathSessions, func(c echo.Context) error {
		var req SessionRequest
		if err := httpx.DecodeJSON(c.Request(), httpx.MaxJSONBody, &req); err != nil {
			return err
		}
		sess, err := s.CreateSession(c.Request().Context(), req)
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return httpx.BadRequest(fe.Field, fe.Error())
			}
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		c.Response().Header().Set("Location", sess.StatusURI)
		return c.JSON(http.StatusCreated, sess)
	}, admin)
	g.GET(PathSessions+"/:id", func(c echo.Context) error {
		st, err := s.Status(c.Request().Context(), c.Param("id"))
		if err != nil {
			return sessionError(err)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, st)
	}, admin)
	g.GET(PathSessions+"/:id/events", func(c echo.Context) error {
		err := s.StreamStatus(c.Request().Context(), c.Param("id"), c.Response())
		if err != nil && !c.Response().Committed {
			return sessionError(err)
		}
		return nil
	}, admin)
	qr := func(render func(string) ([]byte, error), ctype string) echo.HandlerFunc {
		return func(c echo.Context) error {
			link, err := s.AuthorizationRequest(c.Request().Context(), c.Param("id"))
			if err != nil {
				return sessionError(err)
			}
			b, err := render(link)
			if err != nil {
				return err
			}
			c.Response().Header().Set("Cache-Control", "no-store")
			return c.Blob(http.StatusOK, ctype, b)
		}
	}
	g.GET(PathSessions+"/:id/qr.png", qr(func(l string) ([]byte, error) { return qrcode.PNG(l, 6) }, "image/png"))
	g.GET(PathSessions+"/:id/qr.svg", qr(qrcode.SVG, "image/svg+xml"))
	g.POST(PathSessions+"/:id/result", func(c echo.Context) error {
		var req struct {
			ResponseCode string `json:"response_code"`
		}
		if err := httpx.DecodeJSON(c.Request(), 4<<10, &req); err != nil {
			return err
		}
		st, err := s.ResultByResponseCode(c.Request().Context(), c.Param("id"), req.ResponseCode)
		if err != nil {
			return sessionError(err)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, st)
	})
	requestObject := func(c echo.Context, wr *WalletRequest) error {
		jwt, err := s.RequestObject(c.Request().Context(), c.Param("rid"), wr)
		if err != nil {
			return s.walletError(c, err)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.Blob(http.StatusOK, ContentTypeRequestObject, []byte(jwt))
	}
	g.GET(PathRequests+"/:rid", func(c echo.Context) error { return requestObject(c, nil) }, walletCORS)
	g.POST(PathRequests+"/:rid", func(c echo.Context) error {
		body, err := httpx.ReadForm(c.Request(), 32<<10)
		if err != nil {
			return s.walletError(c, err)
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return s.walletError(c, invalidRequest("malformed form body"))
		}
		return requestObject(c, &WalletRequest{WalletNonce: form.Get("wallet_nonce"), WalletMetadata: form.Get("wallet_metadata")})
	}, walletCORS)
	g.POST(PathResponses+"/:rid", func(c echo.Context) error {
		body, err := httpx.ReadForm(c.Request(), MaxResponseBody)
		if err != nil {
			return s.walletError(c, err)
		}
		reply, err := s.HandleResponse(c.Request().Context(), c.Param("rid"), body)
		if err != nil {
			return s.walletError(c, err)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, reply)
	}, walletCORS)
	for path, methods := range map[string]string{PathRequests + "/:rid": "GET, POST", PathResponses + "/:rid": "POST"} {
		g.OPTIONS(path, httpx.Preflight(methods, "Content-Type"), walletCORS)
	}
}

// walletCORS opens the request URI and the response URI to browser-based
// wallets of any origin (httpx.PublicCORS): neither reads a cookie; the
// unguessable request id and the signed, nonce-bound response authorize
// a request.
var walletCORS = httpx.PublicCORS("")

// walletError renders err as an OAuth error response; an error that is
// not an *Error is logged and answered as server_error.
func (s *Service) walletError(c echo.Context, err error) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	e := asError(err)
	if e == nil {
		s.opt.Logger.ErrorContext(c.Request().Context(), "openid4vp endpoint failed", "path", c.Path(), "error", err)
		e = &Error{Code: CodeServerError, Status: http.StatusInternalServerError, Description: "the verifier could not complete the request"}
	} else if e.Cause != nil {
		s.opt.Logger.DebugContext(c.Request().Context(), "wallet request refused", "path", c.Path(), "error", e.Code, "cause", e.Cause)
	}
	return c.JSON(e.Status, e)
}

// sessionError maps the session API's errors to problem+json.
func sessionError(err error) error {
	switch {
	case errors.Is(err, ErrSessionNotFound):
		return httpx.NotFound("no such session")
	case errors.Is(err, ErrResponseCodeInvalid):
		return httpx.NotFound("unknown, used or expired response code")
	}
	return err
}
