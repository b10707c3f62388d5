package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/internal/kv"
)

// TokenResponse is the token endpoint's 200 body.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	IDToken     string `json:"id_token"`
	Scope       string `json:"scope"`
}

// Token redeems an authorization code (RFC 6749 section 4.1.3, OpenID
// Connect Core section 3.1.3): it authenticates the client, takes the
// code (single-use), checks the redirect URI and the PKCE verifier, and
// returns an access token and an ID token. A replayed code revokes the
// access token issued for it. Errors are *Error.
func (p *Provider) Token(ctx context.Context, req *TokenRequest) (*TokenResponse, error) {
	client, err := p.authenticate(ctx, req)
	if err != nil {
		return nil, err
	}
	codeHash := hashKey(req.Code)
	key := codePrefix + codeHash
	raw, err := p.store.Take(ctx, key)
	if errors.Is(err, kv.ErrNotFound) {
		p.revokeReplayed(ctx, codeHash, client.ID)
		return nil, invalidGrant("the authorization code is invalid, expired or already used")
	}
	if err != nil {
		return nil, err
	}
	var g grant
	if err := p.openSealed(key, raw, &g); err != nil {
		return nil, err
	}
	now := p.opt.Now()
	switch {
	case g.ClientID != client.ID:
		return nil, invalidGrant("the authorization code was issued to another client")
	case !now.Before(g.Expires):
		return nil, invalidGrant("the authorization code is invalid, expired or already used")
	case g.RedirectURI != req.RedirectURI:
		return nil, invalidGrant("redirect_uri differs from the authorization request's")
	case !pkceMatches(req.CodeVerifier, g.Challenge):
		return nil, invalidGrant("the PKCE code_verifier does not match the code_challenge")
	}
	at := randomToken(32)
	atHash := hashKey(at)
	tg := g
	tg.RedirectURI, tg.Nonce, tg.Challenge = "", "", ""
	tg.Expires = now.Add(p.opt.AccessTokenTTL)
	if err := p.putSealed(ctx, tokenPrefix+atHash, &tg, p.opt.AccessTokenTTL); err != nil {
		return nil, err
	}
	if err := p.store.Put(ctx, codeUsedPrefix+codeHash, []byte(atHash), p.opt.AccessTokenTTL); err != nil {
		return nil, err
	}
	idt, err := p.idToken(ctx, &g, at, now)
	if err != nil {
		return nil, err
	}
	p.opt.Logger.InfoContext(ctx, "oidc tokens issued", "client_id", client.ID)
	return &TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int(p.opt.AccessTokenTTL / time.Second),
		IDToken: idt, Scope: strings.Join(g.Scopes, " ")}, nil
}

// authenticate checks the client's credentials against its registered
// token endpoint authentication method.
func (p *Provider) authenticate(ctx context.Context, req *TokenRequest) (*clientRecord, error) {
	client, err := p.clientRecord(ctx, req.ClientID)
	if errors.Is(err, ErrClientNotFound) {
		return nil, invalidClient("client authentication failed")
	}
	if err != nil {
		return nil, err
	}
	if req.AuthMethod != client.AuthMethod {
		return nil, invalidClient("this client authenticates with %s", client.AuthMethod)
	}
	if client.AuthMethod != AuthNone && !client.checkSecret(req.ClientSecret) {
		return nil, invalidClient("client authentication failed")
	}
	return client, nil
}

// revokeReplayed deletes the access token issued for a code presented
// again (RFC 6749 section 4.1.2), if the same client redeemed it.
func (p *Provider) revokeReplayed(ctx context.Context, codeHash, clientID string) {
	atHash, err := p.store.Take(ctx, codeUsedPrefix+codeHash)
	if err != nil {
		return
	}
	if err := p.store.Delete(ctx, tokenPrefix+string(atHash)); err != nil {
		p.opt.Logger.ErrorContext(ctx, "oidc: revoking the access token of a replayed code failed", "client_id", clientID, "error", err)
		return
	}
	p.opt.Logger.WarnContext(ctx, "oidc authorization code replayed; its access token is revoked", "client_id", clientID)
}

// pkceMatches checks BASE64URL(SHA256(verifier)) == challenge (RFC 7636
// section 4.6), in constant time.
func pkceMatches(verifier, challenge string) bool {
	h := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(h[:])
	return challenge != "" && subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// idToken signs the ID token of g (ES256, typ JWT, kid of the JWKS).
func (p *Provider) idToken(ctx context.Context, g *grant, accessToken string, now time.Time) (string, error) {
	claims := map[string]any{}
	for k, v := range g.Claims {
		claims[k] = v
	}
	h := sha256.Sum256([]byte(accessToken))
	for k, v := range map[string]any{
		"iss": p.issuer, "sub": g.Subject, "aud": g.ClientID, "iat": now.Unix(),
		"exp": now.Add(p.opt.IDTokenTTL).Unix(), "auth_time": g.AuthTime.Unix(),
		"at_hash": base64.RawURLEncoding.EncodeToString(h[:16]),
	} {
		claims[k] = v
	}
	if g.Nonce != "" {
		claims["nonce"] = g.Nonce
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	key, kid, err := p.signingKey(ctx, now)
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	for k, v := range map[string]any{jws.KeyIDKey: kid, jws.TypeKey: "JWT"} {
		if err := hdr.Set(k, v); err != nil {
			return "", err
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), key.Signer(), jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// UserInfo returns the claims for a bearer access token: sub and the
// released claims (the same as the ID token's). Errors are *Error
// (invalid_token).
func (p *Provider) UserInfo(ctx context.Context, accessToken string) (map[string]any, error) {
	if accessToken == "" || len(accessToken) > maxValueLen {
		return nil, invalidToken("the access token is invalid or expired")
	}
	key := tokenPrefix + hashKey(accessToken)
	raw, err := p.store.Get(ctx, key)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, invalidToken("the access token is invalid or expired")
	}
	if err != nil {
		return nil, err
	}
	var g grant
	if err := p.openSealed(key, raw, &g); err != nil {
		return nil, err
	}
	if !p.opt.Now().Before(g.Expires) {
		return nil, invalidToken("the access token is invalid or expired")
	}
	if _, err := p.clientRecord(ctx, g.ClientID); errors.Is(err, ErrClientNotFound) {
		return nil, invalidToken("the access token's client is no longer registered")
	} else if err != nil {
		return nil, err
	}
	out := map[string]any{"sub": g.Subject}
	for k, v := range g.Claims {
		out[k] = v
	}
	return out, nil
}
