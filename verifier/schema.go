package verifier

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medid/medid/credentials/health"
)

// healthTypes are medid's health credential types by name.
var healthTypes = sync.OnceValue(func() map[string]health.Type {
	m := map[string]health.Type{}
	for _, t := range health.Types() {
		m[t.Name] = t
	}
	return m
})

// healthType returns the medid health type a credential claims to be: the
// last path segment of a vct ".../vct/<Name>" or a W3C VC type name.
func healthType(types []string) (string, bool) {
	for _, t := range types {
		name := t
		if i := strings.LastIndex(t, "/vct/"); i >= 0 {
			name = t[i+len("/vct/"):]
		}
		if _, ok := healthTypes()[name]; ok {
			return name, true
		}
	}
	return "", false
}

// checkSchema checks claims against the health type name. With partial
// set (a selectively disclosed credential) a claim may be missing, and the
// content of one the issuer may make selectively disclosable may be
// incomplete, so only these are required: the type's mandatory claims
// that are never selectively disclosable, present; and every claim that
// is present well-formed (types, formats, code values, no unknown
// claims). Without partial, the full claim set must be valid.
//
// The reason names claims by JSON path, never their values.
func checkSchema(name string, claims map[string]any, partial bool, now time.Time) (bool, string) {
	t, ok := healthTypes()[name]
	if !ok {
		return true, ""
	}
	var problems []string
	never := map[string]bool{}
	for _, c := range t.Claims {
		if len(c.Path) != 1 || c.SD != health.DiscloseNever {
			continue
		}
		n := c.Path[0].(string)
		never[n] = true
		if _, present := claims[n]; partial && c.Mandatory && !present {
			problems = append(problems, n+": required (never selectively disclosable)")
		}
	}
	_, err := health.DecodeAt(name, claims, now)
	var ves health.ValidationErrors
	if err != nil && !errors.As(err, &ves) {
		return false, err.Error()
	}
	for _, ve := range ves {
		if partial && !never[topLevel(ve.Field)] && (!present(claims, ve.Field) || strings.Contains(ve.Reason, "required")) {
			// Possibly hidden by selective disclosure.
			continue
		}
		if partial && never[topLevel(ve.Field)] && !present(claims, topLevel(ve.Field)) {
			// Already reported above.
			continue
		}
		problems = append(problems, ve.Field+": "+ve.Reason)
	}
	if len(problems) == 0 {
		return true, ""
	}
	if len(problems) > 10 {
		problems = append(problems[:10], "…")
	}
	return false, name + ": " + strings.Join(problems, "; ")
}

// pathToken reads the next element of a health.ValidationError field path
// from s: a member name (plain, or ["quoted"]) or an array index. It
// returns the rest of s.
func pathToken(s string) (name string, index int, isIndex bool, rest string, ok bool) {
	s = strings.TrimPrefix(s, ".")
	if strings.HasPrefix(s, "[") {
		if strings.HasPrefix(s, `["`) {
			q, err := strconv.QuotedPrefix(s[1:])
			if err != nil || !strings.HasPrefix(s[1+len(q):], "]") {
				return "", 0, false, "", false
			}
			name, err = strconv.Unquote(q)
			if err != nil {
				return "", 0, false, "", false
			}
			return name, 0, false, s[1+len(q)+1:], true
		}
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, false, "", false
		}
		n, err := strconv.Atoi(s[1:end])
		if err != nil || n < 0 {
			return "", 0, false, "", false
		}
		return "", n, true, s[end+1:], true
	}
	end := strings.IndexAny(s, ".[")
	if end < 0 {
		end = len(s)
	}
	if end == 0 {
		return "", 0, false, "", false
	}
	return s[:end], 0, false, s[end:], true
}

// topLevel returns the top-level claim of a field path.
func topLevel(field string) string {
	name, _, isIndex, _, ok := pathToken(field)
	if !ok || isIndex {
		return ""
	}
	return name
}

// present reports whether the field path leads to a value in claims.
func present(claims map[string]any, field string) bool {
	if field == "(claims)" {
		return true
	}
	var cur any = claims
	rest := field
	for rest != "" {
		name, idx, isIndex, r, ok := pathToken(rest)
		if !ok {
			return false
		}
		rest = r
		if isIndex {
			a, ok := cur.([]any)
			if !ok || idx >= len(a) {
				return false
			}
			cur = a[idx]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[name]; !ok {
			return false
		}
	}
	return true
}
