package qrcode

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"rsc.io/qr"
)

func TestPNGAndSVGCarryTheCode(t *testing.T) {
	text := "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fmedid.example%2Fissuer%2Foffers%2Fabc"
	c, _ := qr.Encode(text, qr.M)
	b, err := PNG(text, 4)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != (c.Size+8)*4 {
		t.Fatalf("PNG is %d px wide, want %d (code + quiet zone)", img.Bounds().Dx(), (c.Size+8)*4)
	}
	s, err := SVG(text)
	if err != nil {
		t.Fatal(err)
	}
	dark := 0
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; x++ {
			if c.Black(x, y) {
				dark++
			}
		}
	}
	if got := strings.Count(string(s), "h1v1h-1z"); got != dark || !strings.HasPrefix(string(s), "<svg") {
		t.Fatalf("SVG has %d dark modules, the code %d", got, dark)
	}
}
