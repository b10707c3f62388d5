package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

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
var issuerFormats = []string{"dc+sd-jwt", "jwt_vc_json", "ldp_vc"}

// openIssuer builds the issuer over the server's own DID and its keys.
func (a *App) openIssuer(ctx context.Context, mk keys.MasterKey, opts Options) error {
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
	a.Status = &issuer.Status{Manager: mgr, Store: a.Store, Ledger: a.Ledger, Keys: ks, ListURL: base + "/status/token/",
		BitstringURL: base + "/status/bitstring/", TTL: opts.StatusTTL}
	a.closers = append(a.closers, func() error { a.Status.Close(); return nil })
	// Once per store: index the issuance records stored before their
	// status list positions were (a full read of them, at most once).
	if err := a.Status.IndexRecords(ctx); err != nil {
		return err
	}
	sd := &issuer.SDJWTMinter{Keys: ks, Status: a.Status.Allocate}
	jwt11 := &issuer.JWTMinter{Format: jwtvc.JWTVCJSON, Keys: ks, Status: a.Status.AllocateBitstring}
	ldp := &issuer.DIMinter{Keys: ks, Status: a.Status.AllocateBitstring, Sign: a.signDataIntegrity}
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
			case "ldp_vc":
				cfg.Types = []string{"VerifiableCredential", t.Name}
				cfg.SigningAlgs = []string{issuer.EdDSARDFC2022}
				minters[cfg.ID] = ldp
			}
			cfgs = append(cfgs, cfg)
		}
	}
	a.Issuer, err = issuer.New(a.Store, sealer, issuer.Options{
		CredentialIssuer: base, Configurations: cfgs, Minters: minters, Logger: a.Log,
		Recorder: a.Status.RecordIssuance, Keys: ks,
	})
	a.VCAPI = &issuer.VCAPI{Keys: ks, KeysFor: a.heldKeyFor, ValidateSubject: validateSubject,
		TokenStatus: a.Status.Allocate, BitstringStatus: a.Status.AllocateBitstring, Recorder: a.Status.RecordIssuance,
		Issued: a.Status.Issued, SignDataIntegrity: a.signDataIntegrity,
		VCT: func(typ string) (string, bool) {
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

// issuerKeys caches signing keys per issuer DID and DID version.
type issuerKeys struct {
	mu    sync.Mutex
	byDID map[string]*heldKeys
}

type heldKeys struct {
	version string    // the DID document's versionId, if the method has one
	at      time.Time // when it was resolved (methods without versions)
	byAlg   map[keys.Algorithm]issuer.IssuerKey
}

// unversionedTTL bounds how long keys of a DID whose method has no
// versions (did:web) are used without resolving it again.
const unversionedTTL = time.Minute

// issuerKey returns the issuer DID's current assertion key for alg.
func (a *App) issuerKey(ctx context.Context, alg keys.Algorithm) (issuer.IssuerKey, error) {
	return a.keyFor(ctx, a.IssuerDID, alg)
}

// heldKeyFor is VCAPI.KeysFor: a key for another DID this server holds
// keys for (the server's own did:medid, or the configured issuer DID).
func (a *App) heldKeyFor(ctx context.Context, d string, alg keys.Algorithm) (issuer.IssuerKey, error) {
	if d != a.ServerDID && d != a.IssuerDID {
		return issuer.IssuerKey{}, issuer.ErrNoIssuerKey
	}
	return a.keyFor(ctx, d, alg)
}

// keyFor returns the first verification method of d of the key type alg,
// listed under assertionMethod, whose private key the keystore holds.
// After a key rotation (a DID update) the new key is used; credentials
// signed before it keep verifying because verifiers resolve the DID as of
// issuance.
func (a *App) keyFor(ctx context.Context, didStr string, alg keys.Algorithm) (issuer.IssuerKey, error) {
	d, err := did.Parse(didStr)
	if err != nil {
		return issuer.IssuerKey{}, err
	}
	var res *did.Result
	if d.Method() == registry.Method {
		// The index state is cheap; a full resolution builds a ledger
		// proof. Any operation (update, deactivation) moves the version.
		if st, serr := a.Registry.State(ctx, d); serr == nil && !st.Deactivated {
			ik := &a.issuerKeys
			ik.mu.Lock()
			if h := ik.byDID[didStr]; h != nil && h.version == strconv.Itoa(st.Version) {
				if k, ok := h.byAlg[alg]; ok {
					ik.mu.Unlock()
					return k, nil
				}
			}
			ik.mu.Unlock()
		}
		res, err = a.Registry.Resolve(ctx, d, did.ResolutionOptions{})
	} else {
		ik := &a.issuerKeys
		ik.mu.Lock()
		h := ik.byDID[didStr]
		if h != nil && h.version == "" && time.Since(h.at) < unversionedTTL {
			if k, ok := h.byAlg[alg]; ok {
				ik.mu.Unlock()
				return k, nil
			}
		}
		ik.mu.Unlock()
		res, err = a.Resolver.ResolveDID(ctx, d, did.ResolutionOptions{})
	}
	if err != nil {
		return issuer.IssuerKey{}, httpx.Unavailable(fmt.Sprintf("the issuer DID %s does not resolve", didStr), 30, err)
	}
	ik := &a.issuerKeys
	ik.mu.Lock()
	defer ik.mu.Unlock()
	if ik.byDID == nil {
		ik.byDID = map[string]*heldKeys{}
	}
	h := ik.byDID[didStr]
	version := res.DocumentMetadata.VersionID
	if h != nil && h.version == version && (version != "" || time.Since(h.at) < unversionedTTL) {
		if k, ok := h.byAlg[alg]; ok {
			return k, nil
		}
	} else {
		h = &heldKeys{version: version, at: time.Now(), byAlg: map[keys.Algorithm]issuer.IssuerKey{}}
		ik.byDID[didStr] = h
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
		k, err := a.Keys.Get(ctx, registry.VerificationKeyID(didStr, tp))
		if err != nil || k.Algorithm() != alg {
			continue
		}
		out := issuer.IssuerKey{DID: didStr, KID: vm.ID, Key: k}
		h.byAlg[alg] = out
		return out, nil
	}
	return issuer.IssuerKey{}, httpx.Unavailable(fmt.Sprintf("the issuer DID %s lists no %s assertion key this server holds; publish %s from the data directory", didStr, alg, IssuerDIDDocumentFile), 30, nil)
}

// registerCredentialDocuments serves what credentials of our types point
// to: SD-JWT VC type metadata at each vct, JSON Schemas, the JSON-LD context.
func (a *App) registerCredentialDocuments(e *echo.Echo) {
	cache := func(c echo.Context) { c.Response().Header().Set("Cache-Control", "public, max-age=3600") }
	cors := httpx.PublicCORS("") // public documents, read by wallets and verifiers in browsers too
	e.GET("/vct/:type", func(c echo.Context) error {
		b := health.TypeMetadata(c.Param("type"), a.Config.BaseURL)
		if b == nil {
			return httpx.NotFound("no such credential type")
		}
		cache(c)
		return c.Blob(http.StatusOK, "application/json", b)
	}, cors)
	e.GET("/schemas/:file", func(c echo.Context) error {
		name, ok := strings.CutSuffix(c.Param("file"), ".json")
		b := health.Schema(name)
		if !ok || b == nil {
			return httpx.NotFound("no such schema")
		}
		cache(c)
		return c.Blob(http.StatusOK, "application/schema+json", b)
	}, cors)
	e.GET(health.ContextPath, func(c echo.Context) error {
		cache(c)
		return c.Blob(http.StatusOK, "application/ld+json", health.JSONLDContext())
	}, cors)
}
