package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/status"
	"github.com/medid/medid/did"
	"github.com/medid/medid/did/registry"
	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/issuer"
)

// issuerFormats are the OpenID4VCI formats offered for every type.
var issuerFormats = []string{"dc+sd-jwt", "jwt_vc_json"}

// openIssuer builds the issuer over the server's own DID and its keys.
func (a *App) openIssuer(mk keys.MasterKey) error {
	sealer, err := keys.NewSealer(mk, "issuer offers")
	if err != nil {
		return err
	}
	base := a.Config.BaseURL
	ks := a.issuerKey
	mgr, err := status.NewManager(a.Store, status.Options{})
	if err != nil {
		return err
	}
	a.Status = &issuer.Status{Manager: mgr, Store: a.Store, Ledger: a.Ledger, Keys: ks, ListURL: base + "/status/token/"}
	sd := &issuer.SDJWTMinter{Keys: ks, Status: a.Status.Allocate}
	jwt11 := &issuer.JWTMinter{Format: jwtvc.JWTVCJSON, Keys: ks}
	var cfgs []issuer.Configuration
	minters := map[string]issuer.Minter{}
	for _, t := range health.Types() {
		claims := make([]issuer.ClaimMetadata, 0, len(t.Claims))
		for _, c := range t.Claims {
			claims = append(claims, issuer.ClaimMetadata{Path: c.Path, Mandatory: c.Mandatory,
				Display: []issuer.Display{{Name: c.Label, Locale: "en", Description: c.Description}}})
		}
		for _, f := range issuerFormats {
			cfg := issuer.Configuration{
				ID: t.Name + "_" + f, Format: f, Display: []issuer.Display{{Name: t.Label, Locale: "en", Description: t.Description}},
				Claims: claims, SigningAlgs: []string{"ES256"}, ContextURL: base + health.ContextPath, SchemaURL: base + t.SchemaPath(),
				AlwaysVisible: t.NeverDisclosable(),
			}
			switch f {
			case "dc+sd-jwt":
				cfg.VCT = t.VCT(base)
				minters[cfg.ID] = sd
			case "jwt_vc_json":
				cfg.Types = []string{"VerifiableCredential", t.Name}
				minters[cfg.ID] = jwt11
			}
			cfgs = append(cfgs, cfg)
		}
	}
	a.Issuer, err = issuer.New(a.Store, sealer, issuer.Options{
		CredentialIssuer: base, Configurations: cfgs, Minters: minters, Logger: a.Log,
		Recorder: a.Status.RecordIssuance, Keys: ks,
	})
	a.VCAPI = &issuer.VCAPI{Keys: ks, ValidateSubject: validateSubject, VCT: func(typ string) (string, bool) {
		t, ok := health.LookupType(typ)
		if !ok {
			return "", false
		}
		return t.VCT(base), true
	}}
	return err
}

// validateSubject checks a VC-API credential's subject when its type is
// one of ours.
func validateSubject(types []string, claims map[string]any) error {
	for _, typ := range types {
		if _, ok := health.LookupType(typ); ok {
			err := validateClaims(issuer.Configuration{ID: typ + "_vcapi"}, claims)
			var ce *issuer.ClaimsError
			if errors.As(err, &ce) {
				ce.Field = strings.TrimPrefix(strings.TrimPrefix(ce.Field, "claims"), ".")
			}
			return err
		}
	}
	return nil
}

// validateClaims checks offer claims against the credential type of cfg.
func validateClaims(cfg issuer.Configuration, claims map[string]any) error {
	typ, _, _ := strings.Cut(cfg.ID, "_")
	_, err := health.Decode(typ, claims)
	if err == nil {
		return nil
	}
	var ves health.ValidationErrors
	if errors.As(err, &ves) && len(ves) > 0 {
		return &issuer.ClaimsError{Field: "claims." + ves[0].Field, Reason: err.Error()}
	}
	return &issuer.ClaimsError{Field: "claims", Reason: err.Error()}
}

// issuerKeys caches the signing keys of the server's DID per DID version.
type issuerKeys struct {
	mu      sync.Mutex
	version string
	byAlg   map[keys.Algorithm]issuer.IssuerKey
}

// issuerKey returns the server DID's current assertion key for alg: the
// first verification method of that key type listed under assertionMethod
// whose private key the keystore holds. After a key rotation (a DID
// update) the new key is used; credentials signed before it keep verifying
// because verifiers resolve the DID as of issuance.
func (a *App) issuerKey(ctx context.Context, alg keys.Algorithm) (issuer.IssuerKey, error) {
	d, err := did.Parse(a.ServerDID)
	if err != nil {
		return issuer.IssuerKey{}, err
	}
	res, err := a.Registry.Resolve(ctx, d, did.ResolutionOptions{})
	if err != nil {
		return issuer.IssuerKey{}, fmt.Errorf("issuer DID: %w", err)
	}
	ik := &a.issuerKeys
	ik.mu.Lock()
	defer ik.mu.Unlock()
	if ik.version == res.DocumentMetadata.VersionID {
		if k, ok := ik.byAlg[alg]; ok {
			return k, nil
		}
	} else {
		ik.version, ik.byAlg = res.DocumentMetadata.VersionID, map[keys.Algorithm]issuer.IssuerKey{}
	}
	for _, vm := range res.Document.VerificationMethod {
		if !res.Document.Authorized(did.AssertionMethod, vm.ID) {
			continue
		}
		pub, err := vm.PublicKey()
		if err != nil {
			continue
		}
		tp, err := keys.ThumbprintOf(pub)
		if err != nil {
			continue
		}
		k, err := a.Keys.Get(ctx, registry.VerificationKeyID(a.ServerDID, tp))
		if err != nil || k.Algorithm() != alg {
			continue
		}
		out := issuer.IssuerKey{DID: a.ServerDID, KID: vm.ID, Key: k}
		ik.byAlg[alg] = out
		return out, nil
	}
	return issuer.IssuerKey{}, fmt.Errorf("the issuer DID %s has no %s assertion key this server holds", a.ServerDID, alg)
}

// registerCredentialDocuments serves what credentials of our types point
// to: SD-JWT VC type metadata at each vct, JSON Schemas, the JSON-LD context.
func (a *App) registerCredentialDocuments(e *echo.Echo) {
	cache := func(c echo.Context) { c.Response().Header().Set("Cache-Control", "public, max-age=3600") }
	e.GET("/vct/:type", func(c echo.Context) error {
		b := health.TypeMetadata(c.Param("type"), a.Config.BaseURL)
		if b == nil {
			return httpx.NotFound("no such credential type")
		}
		cache(c)
		return c.Blob(http.StatusOK, "application/json", b)
	})
	e.GET("/schemas/:file", func(c echo.Context) error {
		name, ok := strings.CutSuffix(c.Param("file"), ".json")
		b := health.Schema(name)
		if !ok || b == nil {
			return httpx.NotFound("no such schema")
		}
		cache(c)
		return c.Blob(http.StatusOK, "application/schema+json", b)
	})
	e.GET(health.ContextPath, func(c echo.Context) error {
		cache(c)
		return c.Blob(http.StatusOK, "application/ld+json", health.JSONLDContext())
	})
}
