package jsonld

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/medid/medid/credentials/jsonld/internal/ld"
)

// undefinedVocab is an @vocab placed under every context the Processor
// processes. A term no context defines expands against it instead of being
// dropped, and the expanded document is then searched for it. A document
// every term of which is defined expands exactly as without it.
const undefinedVocab = "urn:medid:jsonld:undefined:"

// contextCacheSize bounds the processed contexts kept per Processor, and
// scopedBudget the scoped contexts memoized under them (a processed
// context holds a copy of every term definition in scope, some kilobytes).
// Real traffic uses a handful of context lists and a few dozen scoped
// contexts; the bounds keep documents with ever-new inline contexts from
// growing memory, at worst back to uncached speed.
const (
	contextCacheSize = 256
	scopedBudget     = 2048
)

// Processor turns JSON-LD documents into RDF and canonical N-Quads with the
// contexts of one Loader. It caches processed contexts and is safe for
// concurrent use.
type Processor struct {
	loader *Loader
	gold   goldLoader
	cache  *lru.Cache[string, *ld.Context]
	budget *atomic.Int64
}

// NewProcessor returns a Processor that takes its contexts from l.
func NewProcessor(l *Loader) *Processor {
	budget := new(atomic.Int64)
	budget.Store(scopedBudget)
	c, _ := lru.NewWithEvict(contextCacheSize, func(_ string, c *ld.Context) {
		budget.Add(int64(c.ScopedCacheLen()))
	})
	p := &Processor{loader: l, cache: c, budget: budget, gold: goldLoader{docs: map[string]any{}}}
	for u, v := range l.parsed {
		p.gold.docs[u] = withVocabAfterNull(v)
	}
	return p
}

// Loader returns the Processor's Loader.
func (p *Processor) Loader() *Loader { return p.loader }

// goldLoader is the json-gold document loader: the Loader's documents with
// the undefined-term @vocab restored after every null context.
type goldLoader struct{ docs map[string]any }

func (g goldLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	v, ok := g.docs[u]
	if !ok {
		return nil, &UnknownContextError{URL: u}
	}
	return &ld.RemoteDocument{DocumentURL: u, Document: deepCopy(v)}, nil
}

func (p *Processor) options() *ld.JsonLdOptions {
	o := ld.NewJsonLdOptions("")
	o.ProcessingMode = ld.JsonLd_1_1
	o.DocumentLoader = p.gold
	return o
}

// ToRDF expands doc, a JSON object as encoding/json decodes it into an
// any, and returns its RDF dataset. It refuses unknown contexts, undefined
// terms and identifiers that are not absolute IRIs (see the package doc).
// doc is not modified.
func (p *Processor) ToRDF(doc map[string]any) (quads []Quad, err error) {
	defer func() {
		if r := recover(); r != nil { // json-gold on input it does not expect
			quads, err = nil, fmt.Errorf("%w: %v", ErrInvalid, r)
		}
	}()
	nulls, err := p.checkContexts(doc)
	if err != nil {
		return nil, err
	}
	if nulls {
		doc = withVocabAfterNull(doc).(map[string]any)
	}
	body := make(map[string]any, len(doc))
	for k, v := range doc {
		if k != "@context" {
			body[k] = v
		}
	}
	active, err := p.context(doc["@context"])
	if err != nil {
		return nil, err
	}
	expanded, err := ld.NewJsonLdApi().Expand(active, "", body, p.options(), false, nil)
	if err != nil {
		return nil, goldError(err)
	}
	return toRDF(expandedList(expanded))
}

// Canonicalize returns the RDFC-1.0 canonical N-Quads of doc's dataset.
func (p *Processor) Canonicalize(doc map[string]any) ([]byte, error) {
	q, err := p.ToRDF(doc)
	if err != nil {
		return nil, err
	}
	return Canonicalize(q)
}

// context returns the processed context for a document whose @context is
// v (nil if it has none), from the cache when it can.
func (p *Processor) context(v any) (*ld.Context, error) {
	key, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c, ok := p.cache.Get(string(key)); ok {
		return c, nil
	}
	local := []any{map[string]any{"@vocab": undefinedVocab}}
	switch x := v.(type) {
	case nil:
	case []any:
		local = append(local, x...)
	default:
		local = append(local, x)
	}
	c, err := ld.NewContext(nil, p.options()).Parse(local)
	if err != nil {
		return nil, goldError(err)
	}
	c.EnableScopedCache(p.budget)
	p.cache.Add(string(key), c)
	return c, nil
}

func goldError(err error) error {
	var u *UnknownContextError
	if errors.As(err, &u) {
		return u
	}
	var je *ld.JsonLdError
	if errors.As(err, &je) && je.Code == ld.LoadingRemoteContextFailed {
		if d, ok := je.Details.(string); ok {
			if i := strings.LastIndex(d, ": "); i >= 0 {
				return &UnknownContextError{URL: d[i+2:]}
			}
		}
	}
	return fmt.Errorf("%w: %v", ErrInvalid, err)
}

// expandedList is the last step of the JSON-LD expansion algorithm.
func expandedList(expanded any) []any {
	m, isMap := expanded.(map[string]any)
	if isMap && len(m) == 0 {
		return []any{}
	}
	if g, ok := m["@graph"]; isMap && ok && len(m) == 1 {
		expanded = g
	}
	switch x := expanded.(type) {
	case nil:
		return []any{}
	case []any:
		return x
	}
	return []any{expanded}
}

// checkContexts walks doc for every context it references: each URL must be
// one the Loader serves, and no inline context may clear @vocab. It reports
// whether some context is null.
func (p *Processor) checkContexts(v any) (nulls bool, err error) {
	var walk func(v any, inContext bool) error
	checkURL := func(s string) error {
		if _, ok := p.gold.docs[s]; !ok {
			return &UnknownContextError{URL: s}
		}
		return nil
	}
	walk = func(v any, inContext bool) error {
		switch x := v.(type) {
		case nil:
			if inContext {
				nulls = true
			}
		case string:
			if inContext {
				return checkURL(x)
			}
		case []any:
			for _, e := range x {
				if err := walk(e, inContext); err != nil {
					return err
				}
			}
		case map[string]any:
			for k, e := range x {
				switch {
				case k == "@context":
					if err := walk(e, true); err != nil {
						return err
					}
				case inContext && k == "@import":
					s, ok := e.(string)
					if !ok {
						return fmt.Errorf("%w: @import must be a string", ErrInvalid)
					}
					if err := checkURL(s); err != nil {
						return err
					}
				case inContext && k == "@vocab" && (e == nil || e == ""):
					return fmt.Errorf("%w: a context may not clear @vocab", ErrUnsupported)
				default:
					if err := walk(e, false); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	return nulls, walk(v, false)
}

// withVocabAfterNull returns a copy of v in which every null context is
// followed by the undefined-term @vocab, so that nothing after a context
// reset escapes detection.
func withVocabAfterNull(v any) any {
	vocab := map[string]any{"@vocab": undefinedVocab}
	var ctx func(c any) any
	var walk func(v any) any
	ctx = func(c any) any {
		switch x := c.(type) {
		case nil:
			return []any{nil, vocab}
		case []any:
			out := make([]any, 0, len(x)+1)
			for _, e := range x {
				if e == nil {
					out = append(out, nil, vocab)
					continue
				}
				out = append(out, walk(e))
			}
			return out
		}
		return walk(c)
	}
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			m := make(map[string]any, len(x))
			for k, e := range x {
				if k == "@context" {
					m[k] = ctx(e)
				} else {
					m[k] = walk(e)
				}
			}
			return m
		case []any:
			a := make([]any, len(x))
			for i, e := range x {
				a[i] = walk(e)
			}
			return a
		}
		return v
	}
	return walk(v)
}
