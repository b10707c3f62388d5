package oidc

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/internal/httpx"
)

// Register adds the provider's routes to g. admin guards the client API.
// The OAuth endpoints answer with OAuth error codes; the admin API with
// problem+json; the browser routes with HTML pages or redirects, under
// security headers.
//
//	POST   /oidc/clients                           admin    register a client (201, secret shown once)
//	GET    /oidc/clients/:id                       admin    a client, without secret
//	DELETE /oidc/clients/:id                       admin    remove a client (204)
//	GET    /oidc/keys                              admin    the published signing keys and their states
//	POST   /oidc/keys/rotate                       admin    a new signing key: published now, signing 6 minutes later (201)
//	GET    /oidc/.well-known/openid-configuration  public   discovery
//	GET    /oidc/jwks                              public   the ID token signing key
//	GET    /oidc/authorize  (and POST, form)       browser  start a sign-in: the QR code page
//	GET    /oidc/authorize/:txn/status             browser  {"status": …}, for the page's polling
//	GET    /oidc/authorize/:txn/complete           browser  redirect to the client with a code or an error
//	POST   /oidc/token                             client   authorization_code grant (form)
//	GET    /oidc/userinfo   (and POST)             bearer   the released claims
//
// Discovery, the JWKS, the token endpoint and userinfo answer CORS
// requests from any origin, and their OPTIONS preflights (see
// publicCORS); the client API and the browser routes do not.
func (p *Provider) Register(g *echo.Group, admin echo.MiddlewareFunc) {
	g.POST(PathClients, func(c echo.Context) error {
		var req ClientRequest
		if err := httpx.DecodeJSON(c.Request(), httpx.MaxJSONBody, &req); err != nil {
			return err
		}
		rc, err := p.RegisterClient(c.Request().Context(), req)
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return httpx.BadRequest(fe.Field, fe.Error())
			}
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		c.Response().Header().Set("Location", p.opt.BaseURL+PathClients+"/"+rc.ID)
		return c.JSON(http.StatusCreated, rc)
	}, admin)
	g.GET(PathClients+"/:id", func(c echo.Context) error {
		cl, err := p.Client(c.Request().Context(), c.Param("id"))
		if err != nil {
			return clientError(err)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, cl)
	}, admin)
	g.DELETE(PathClients+"/:id", func(c echo.Context) error {
		if err := p.DeleteClient(c.Request().Context(), c.Param("id")); err != nil {
			return clientError(err)
		}
		return c.NoContent(http.StatusNoContent)
	}, admin)

	g.GET(PathKeys, func(c echo.Context) error {
		ks, err := p.SigningKeys(c.Request().Context())
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, map[string]any{"keys": ks})
	}, admin)
	g.POST(PathKeys+"/rotate", func(c echo.Context) error {
		k, err := p.RotateSigningKey(c.Request().Context())
		switch {
		case errors.Is(err, ErrRotationPending), errors.Is(err, ErrNoKeystore):
			return httpx.Conflict(err.Error())
		case err != nil:
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusCreated, k)
	}, admin)

	g.GET(PathDiscovery, func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", jwksCacheControl)
		return c.JSON(http.StatusOK, p.Metadata())
	}, publicCORS)
	g.GET(PathJWKS, func(c echo.Context) error {
		b, err := p.JWKS(c.Request().Context())
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", jwksCacheControl)
		return c.Blob(http.StatusOK, "application/jwk-set+json", b)
	}, publicCORS)
	for path, methods := range map[string]string{PathDiscovery: "GET", PathJWKS: "GET", PathToken: "POST", PathUserInfo: "GET, POST"} {
		g.OPTIONS(path, preflight(methods), publicCORS)
	}

	authorize := func(c echo.Context, params url.Values) error {
		t, err := p.Authorize(c.Request().Context(), params)
		if err != nil {
			return p.authorizeError(c, err)
		}
		http.SetCookie(c.Response(), p.bindingCookie(t.ID, t.Binding, int(p.opt.TransactionTTL.Seconds())))
		return p.renderAuthorize(c, t)
	}
	g.GET(PathAuthorize, func(c echo.Context) error {
		raw := c.Request().URL.RawQuery
		if len(raw) > maxQueryLen {
			return p.authorizeError(c, invalidRequest("the request is too large"))
		}
		params, err := url.ParseQuery(raw)
		if err != nil {
			return p.authorizeError(c, invalidRequest("the request's query is malformed"))
		}
		return authorize(c, params)
	})
	g.POST(PathAuthorize, func(c echo.Context) error {
		body, err := httpx.ReadForm(c.Request(), maxQueryLen)
		if err != nil {
			return p.authorizeError(c, err)
		}
		params, err := url.ParseQuery(string(body))
		if err != nil {
			return p.authorizeError(c, invalidRequest("the request's form body is malformed"))
		}
		return authorize(c, params)
	})
	g.GET(PathAuthorize+"/:txn/status", func(c echo.Context) error {
		st, err := p.TransactionStatus(c.Request().Context(), c.Param("txn"), p.binding(c))
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		switch {
		case errors.Is(err, ErrTransactionNotFound):
			return c.JSON(http.StatusNotFound, map[string]string{"status": StatusExpired, "error": "unknown, expired or completed sign-in"})
		case errors.Is(err, ErrWrongBrowser):
			return c.JSON(http.StatusForbidden, map[string]string{"error": "this sign-in was started in another browser"})
		case err != nil:
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"status": st})
	})
	g.GET(PathAuthorize+"/:txn/complete", func(c echo.Context) error {
		id := c.Param("txn")
		loc, err := p.Complete(c.Request().Context(), id, p.binding(c))
		if err != nil {
			return p.authorizeError(c, err)
		}
		// The cookie has done its work.
		http.SetCookie(c.Response(), p.bindingCookie(id, "", -1))
		browserHeaders(c.Response().Header(), randomToken(16), "")
		return c.Redirect(http.StatusSeeOther, loc)
	})

	g.POST(PathToken, func(c echo.Context) error {
		resp, err := p.token(c)
		if err != nil {
			return p.oauthError(c, err)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		c.Response().Header().Set("Pragma", "no-cache")
		return c.JSON(http.StatusOK, resp)
	}, publicCORS)
	userinfo := func(c echo.Context) error {
		tok, ok := bearer(c.Request().Header.Get("Authorization"))
		if !ok {
			return p.oauthError(c, invalidToken("a bearer access token is required"))
		}
		claims, err := p.UserInfo(c.Request().Context(), tok)
		if err != nil {
			return p.oauthError(c, err)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		c.Response().Header().Set("Pragma", "no-cache")
		return c.JSON(http.StatusOK, claims)
	}
	g.GET(PathUserInfo, userinfo, publicCORS)
	g.POST(PathUserInfo, userinfo, publicCORS)
}

// publicCORS lets scripts of any origin call the endpoint and read its
// answer, errors included: a single-page client platform (a public client
// with PKCE) reads discovery and the JWKS, redeems its code and calls
// userinfo from the browser (OAuth 2.0 for Browser-Based Applications).
// None of these endpoints reads a cookie; the code with its PKCE
// verifier, the client's credentials or the access token authorize a
// request, wherever it comes from (see httpx.PublicCORS).
var publicCORS = httpx.PublicCORS("WWW-Authenticate")

// preflight answers a CORS preflight (OPTIONS) of a publicCORS endpoint
// that serves methods.
func preflight(methods string) echo.HandlerFunc {
	return httpx.Preflight(methods, "Authorization, Content-Type")
}

// token decodes, validates and answers a token request.
func (p *Provider) token(c echo.Context) (*TokenResponse, error) {
	body, err := httpx.ReadForm(c.Request(), maxFormBody)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalidRequest("the form body is malformed")
	}
	req, err := ParseTokenRequest(c.Request().Header.Get("Authorization"), form)
	if err != nil {
		return nil, err
	}
	return p.Token(c.Request().Context(), req)
}

// bindingCookie is the cookie tying sign-in id to this browser; maxAge -1
// deletes it.
func (p *Provider) bindingCookie(id, value string, maxAge int) *http.Cookie {
	path := PathAuthorize + "/" + id
	if u, err := url.Parse(p.opt.BaseURL); err == nil {
		path = strings.TrimRight(u.Path, "/") + path
	}
	return &http.Cookie{Name: CookieName, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteStrictMode}
}

func (p *Provider) binding(c echo.Context) string {
	ck, err := c.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return ck.Value
}

// authorizeError renders an authorization error: a redirect to the client
// when it may see it, otherwise an error page.
func (p *Provider) authorizeError(c echo.Context, err error) error {
	ctx := c.Request().Context()
	var re *RedirectError
	if errors.As(err, &re) {
		if re.Err.Cause != nil {
			p.opt.Logger.ErrorContext(ctx, "oidc authorize failed", "error", re.Err.Cause)
		}
		browserHeaders(c.Response().Header(), randomToken(16), "")
		return c.Redirect(http.StatusSeeOther, authzResponse(re.RedirectURI, url.Values{
			"error": {re.Err.Code}, "error_description": {re.Err.Description}, "state": {re.State}, "iss": {p.issuer}}))
	}
	switch {
	case errors.Is(err, ErrTransactionNotFound):
		return renderError(c, http.StatusNotFound, CodeInvalidRequest, "Sign-in expired", "This sign-in has expired or was already completed. Go back to the site you came from and start again.")
	case errors.Is(err, ErrWrongBrowser):
		return renderError(c, http.StatusForbidden, CodeAccessDenied, "Wrong browser", "This sign-in was started in another browser. Continue it there, or start again here.")
	case errors.Is(err, ErrPending):
		return renderError(c, http.StatusConflict, "pending", "Waiting for your wallet", "Your wallet has not answered yet. Go back, scan the code or open your wallet, then continue.")
	case errors.Is(err, ErrClientNotFound):
		return renderError(c, http.StatusBadRequest, CodeInvalidRequest, "Sign-in error", "The site you came from is no longer registered.")
	}
	if e := AsError(err); e != nil {
		status := e.Status
		if status == 0 || status >= 500 {
			status = http.StatusBadRequest
		}
		return renderError(c, status, e.Code, "Sign-in error", "The site you came from sent an invalid sign-in request: "+e.Description+".")
	}
	p.opt.Logger.ErrorContext(ctx, "oidc authorize failed", "path", c.Path(), "error", err)
	return renderError(c, http.StatusInternalServerError, CodeServerError, "Sign-in error", "The sign-in could not be completed. Please try again.")
}

// oauthError renders err as an OAuth JSON error; an error that is not an
// *Error is logged and answered as server_error.
func (p *Provider) oauthError(c echo.Context, err error) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	e := AsError(err)
	if e == nil {
		p.opt.Logger.ErrorContext(c.Request().Context(), "oidc endpoint failed", "path", c.Path(), "error", err)
		e = oauthErr(CodeServerError, http.StatusInternalServerError, "the request could not be completed")
	}
	switch e.Code {
	case CodeInvalidClient:
		h.Set("WWW-Authenticate", `Basic realm="medid-oidc"`)
	case CodeInvalidToken:
		h.Set("WWW-Authenticate", `Bearer realm="medid-oidc", error="invalid_token"`)
	}
	return c.JSON(e.Status, e)
}

// bearer extracts an RFC 6750 bearer token from an Authorization header.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// clientError maps the client API's errors to problem+json.
func clientError(err error) error {
	if errors.Is(err, ErrClientNotFound) {
		return httpx.NotFound("no such client")
	}
	return err
}
