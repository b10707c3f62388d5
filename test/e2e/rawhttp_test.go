package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rawConn is the load generators' HTTP/1.1 client: one keep-alive
// connection that writes a request built in advance and reads the status
// and the body (Content-Length or chunked), nothing more. net/http's
// client costs about as much CPU per request as the echo handler it is
// measured against; on a 2-CPU machine that CPU is taken from the server
// under test.
type rawConn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	body []byte
}

// rawTimeout bounds one request.
const rawTimeout = 30 * time.Second

// do sends req and returns the answer's status and body (valid until the
// next call). It dials on first use and after a failed request.
func (rc *rawConn) do(req []byte) (int, []byte, error) {
	if rc.c == nil {
		c, err := net.DialTimeout("tcp", rc.addr, rawTimeout)
		if err != nil {
			return 0, nil, err
		}
		rc.c, rc.r = c, bufio.NewReaderSize(c, 16<<10)
	}
	status, body, err := rc.roundTrip(req)
	if err != nil {
		rc.close()
	}
	return status, body, err
}

func (rc *rawConn) roundTrip(req []byte) (int, []byte, error) {
	if err := rc.c.SetDeadline(time.Now().Add(rawTimeout)); err != nil {
		return 0, nil, err
	}
	if _, err := rc.c.Write(req); err != nil {
		return 0, nil, err
	}
	line, err := rc.line()
	if err != nil {
		return 0, nil, err
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		h, err := rc.line()
		if err != nil {
			return 0, nil, err
		}
		if h == "" {
			break
		}
		name, value, _ := strings.Cut(h, ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-length":
			if length, err = strconv.Atoi(value); err != nil || length < 0 {
				return 0, nil, fmt.Errorf("bad Content-Length %q", value)
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(value, "chunked")
		case "connection":
			closing = strings.EqualFold(value, "close")
		}
	}
	rc.body = rc.body[:0]
	switch {
	case chunked:
		err = rc.readChunked()
	case length >= 0:
		rc.body = append(rc.body, make([]byte, length)...)
		_, err = io.ReadFull(rc.r, rc.body)
	default:
		return 0, nil, errors.New("an answer with neither Content-Length nor chunked encoding")
	}
	if err != nil {
		return 0, nil, err
	}
	if closing {
		rc.close()
	}
	return status, rc.body, nil
}

// readChunked appends a chunked body to rc.body.
func (rc *rawConn) readChunked() error {
	for {
		line, err := rc.line()
		if err != nil {
			return err
		}
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseUint(strings.TrimSpace(size), 16, 31)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			for { // trailers, then the blank line
				t, err := rc.line()
				if err != nil || t == "" {
					return err
				}
			}
		}
		at := len(rc.body)
		rc.body = append(rc.body, make([]byte, n)...)
		if _, err := io.ReadFull(rc.r, rc.body[at:]); err != nil {
			return err
		}
		if crlf, err := rc.line(); err != nil || crlf != "" {
			return fmt.Errorf("chunk not followed by CRLF: %q %v", crlf, err)
		}
	}
}

// line reads one CRLF-terminated line, without the CRLF.
func (rc *rawConn) line() (string, error) {
	l, err := rc.r.ReadSlice('\n')
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(bytes.TrimSuffix(l, []byte("\n")), []byte("\r"))), nil
}

func (rc *rawConn) close() {
	if rc.c != nil {
		rc.c.Close()
		rc.c, rc.r = nil, nil
	}
}

// TestRawConn: the load generators' client reads what a Go server
// writes, sized and chunked, over one kept-alive connection, and reports
// a broken answer as an error.
func TestRawConn(t *testing.T) {
	big := strings.Repeat("0123456789", 1000) // over net/http's 2 KB, so chunked
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/small":
			w.WriteHeader(http.StatusCreated)
			w.Write(b)
		case "/big":
			w.Write([]byte(big))
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	rc := &rawConn{addr: addr}
	defer rc.close()
	for range 3 {
		tgt := &loadTarget{addr: addr, path: "/small"}
		tgt.setBody([]byte(`{"a":1}`))
		status, body, err := rc.do(tgt.request())
		if err != nil || status != http.StatusCreated || string(body) != `{"a":1}` {
			t.Fatalf("small: %d %q %v", status, body, err)
		}
		tgt = &loadTarget{addr: addr, path: "/big"}
		tgt.setBody(nil)
		status, body, err = rc.do(tgt.request())
		if err != nil || status != http.StatusOK || string(body) != big {
			t.Fatalf("big: %d, %d bytes, %v", status, len(body), err)
		}
	}
	tgt := &loadTarget{addr: addr, path: "/missing"}
	tgt.setBody(nil)
	if status, _, err := rc.do(tgt.request()); err != nil || status != http.StatusNotFound {
		t.Fatalf("missing: %d %v", status, err)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 7 requests, want 1 kept alive", n)
	}

	// A server that answers garbage: an error, and the next request dials
	// again.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			c.Write([]byte("SMTP ready\r\n\r\n"))
			c.Close()
		}
	}()
	bad := &rawConn{addr: l.Addr().String()}
	for range 2 {
		if _, _, err := bad.do(tgt.request()); err == nil {
			t.Fatal("garbage answer accepted")
		}
	}
}
