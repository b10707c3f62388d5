package sdjwt

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medid/medid/internal/keys"
)

// KeyBindingOptions ask Present for a Key Binding JWT (RFC 9901 section
// 4.3).
type KeyBindingOptions struct {
	// Key is the Holder's key; its public half must be the credential's
	// cnf.jwk.
	Key *keys.PrivateKey
	// Nonce and Audience come from the Verifier's request.
	Nonce, Audience string
	// IssuedAt is the KB-JWT's iat, normally the current time.
	IssuedAt time.Time
}

// Present makes a presentation of an issued SD-JWT (<jwt>~<disclosure>~…~):
// it keeps the Disclosures whose claim path disclose accepts and whose
// parent Disclosure, if any, is kept too, in their original order, and
// appends a Key Binding JWT when kb is not nil. A nil disclose keeps none.
//
// disclose sees each Disclosure's path in the issued structure: object
// members by name, array elements by their position in the issued array.
// DisclosePaths builds one from a list of requested claims.
//
// Present does not check the Issuer's signature: the Holder checks a
// credential with Verify when it receives it. It does check that every
// Disclosure belongs to the SD-JWT.
func Present(sdjwt string, disclose func(path []any) bool, kb *KeyBindingOptions) (string, error) {
	if !strings.HasSuffix(sdjwt, "~") {
		return "", errors.New(`sdjwt: Present takes an SD-JWT ending in "~" (without a Key Binding JWT)`)
	}
	parts := strings.Split(sdjwt[:len(sdjwt)-1], "~")
	jwt, err := parseCompact(parts[0])
	if err != nil {
		return "", fail(ErrMalformed, "issuer-signed JWT: %v", err)
	}
	set, err := decodeDisclosures(parts[1:])
	if err != nil {
		return "", err
	}
	_, placed, err := process(jwt.payload, set)
	if err != nil {
		return "", err
	}
	keep := make([]int8, len(placed)) // 0 undecided, 1 keep, -1 drop
	var decide func(i int) bool
	decide = func(i int) bool {
		if keep[i] == 0 {
			keep[i] = -1
			pl := placed[i]
			if disclose != nil && (pl.parent < 0 || decide(pl.parent)) && disclose(pl.orig) {
				keep[i] = 1
			}
		}
		return keep[i] == 1
	}
	var b strings.Builder
	b.Grow(len(sdjwt))
	b.WriteString(parts[0])
	b.WriteByte('~')
	for i, d := range set.list {
		if decide(i) {
			b.WriteString(d.encoded)
			b.WriteByte('~')
		}
	}
	sdjwt = b.String()
	if kb == nil {
		return sdjwt, nil
	}
	if kb.Key == nil || kb.Nonce == "" || kb.Audience == "" || kb.IssuedAt.IsZero() {
		return "", errors.New("sdjwt: KeyBindingOptions needs Key, Nonce, Audience and IssuedAt")
	}
	holder, err := holderKey(jwt.payload)
	if err != nil {
		return "", fmt.Errorf("sdjwt: cannot bind the presentation: %v", err)
	}
	if t, err := keys.ThumbprintOf(holder); err != nil || t != kb.Key.Thumbprint() {
		return "", errors.New("sdjwt: the Key Binding key is not the credential's cnf.jwk")
	}
	sum := sha256.Sum256([]byte(sdjwt))
	body, err := marshal(map[string]any{
		"iat":     kb.IssuedAt.Unix(),
		"aud":     kb.Audience,
		"nonce":   kb.Nonce,
		"sd_hash": b64.EncodeToString(sum[:]),
	})
	if err != nil {
		return "", err
	}
	kbJWT, err := sign(kb.Key, TypKB, "", body)
	if err != nil {
		return "", err
	}
	return sdjwt + kbJWT, nil
}

// DisclosePaths returns a disclose function for Present that reveals the
// claims at paths: each claim on a listed path, everything below it, and
// the claims above it that must be revealed to reach it. In a path, a
// string names an object member, an int an array position and nil every
// array element. So {"address"} reveals the whole address, while
// {"address", "locality"} reveals address and only its locality; an empty
// path reveals everything.
func DisclosePaths(paths ...[]any) func(path []any) bool {
	return func(path []any) bool {
		for _, p := range paths {
			if prefixMatch(p, path) {
				return true
			}
		}
		return false
	}
}

// prefixMatch reports whether pattern and path agree on their common
// length, so that one leads to the other.
func prefixMatch(pattern, path []any) bool {
	n := min(len(pattern), len(path))
	for i := range n {
		switch p := pattern[i].(type) {
		case nil:
			if _, ok := path[i].(int); !ok {
				return false
			}
		case string:
			if s, ok := path[i].(string); !ok || s != p {
				return false
			}
		case int:
			if j, ok := path[i].(int); !ok || j != p {
				return false
			}
		default:
			return false
		}
	}
	return true
}
