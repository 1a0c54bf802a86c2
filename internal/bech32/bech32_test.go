package bech32

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Valid Bech32m strings from BIP 350's test vectors.
var validVectors = []string{
	"A1LQFN3A",
	"a1lqfn3a",
	"an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
	"abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
	"11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
	"split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
	"?1v759aa",
}

func TestDecodeBIP350Vectors(t *testing.T) {
	for _, s := range validVectors {
		hrp, data, err := Decode(s)
		if err != nil {
			t.Errorf("Decode(%q): %v", s, err)
			continue
		}
		again, err := Encode(hrp, data)
		if err != nil {
			t.Errorf("Encode(%q): %v", hrp, err)
			continue
		}
		if again != strings.ToLower(s) {
			t.Errorf("round trip %q -> %q", s, again)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, s := range []string{
		"",
		"1",
		"a12uel5l", // valid Bech32 (BIP 173), not Bech32m
		"A1lqfn3a", // mixed case
		"a1lqfn3b", // checksum
		"a1lqfn3",  // too short
		"a1lqfnba", // 'b' not in alphabet
		"x1b4n0q5v",
		strings.Repeat("a", 91),
	} {
		if _, _, err := Decode(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestConvertBitsRoundTrip(t *testing.T) {
	for n := range 40 {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*37 + n)
		}
		five, err := ConvertBits(data, 8, 5, true)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ConvertBits(five, 5, 8, false)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !bytes.Equal(back, data) {
			t.Fatalf("n=%d: got %x want %x", n, back, data)
		}
	}
}
