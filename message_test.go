package blockchain

import (
	"bytes"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func testMessages(tb testing.TB) []Message {
	b := testBlock(tb, 3)
	work, _ := new(big.Int).SetString("123456789abcdef0123456789", 16)
	return []Message{
		VersionMsg{Version: ProtocolVersion, ChainID: Hash{9}, Nonce: 77, ListenAddr: "198.18.0.7:8333", Height: 2000, Tip: Hash{1, 2}, TotalWork: work},
		VersionMsg{TotalWork: new(big.Int)},
		VerAckMsg{},
		GetHeadersMsg{Locator: []Hash{{6}, {7}, {8}}, Stop: Hash{9}},
		GetHeadersMsg{Locator: []Hash{}},
		HeadersMsg{Headers: []Header{b.Header, testHeader()}},
		HeadersMsg{Headers: []Header{}},
		InvMsg{Items: []InvItem{{InvTx, Hash{3}}, {InvBlock, Hash{4}}}},
		InvMsg{Items: []InvItem{}},
		GetDataMsg{Items: []InvItem{{InvBlock, Hash{5}}}},
		NotFoundMsg{Items: []InvItem{{InvTx, Hash{6}}}},
		TxMsg{Tx: signedTx(tb)},
		BlockMsg{Block: b},
		GetAddrMsg{},
		AddrMsg{Addrs: []string{"127.0.0.1:1", "[::1]:8333"}},
		AddrMsg{Addrs: []string{}},
		GetProofMsg{TxID: Hash{7}},
		ProofMsg{Tx: signedTx(tb), BlockHash: Hash{8}, Proof: MerkleProof{Index: 2, Size: 5, Path: []Hash{{1}, {2}, {3}}}},
		ProofMsg{Tx: signedTx(tb), Proof: MerkleProof{Path: []Hash{}}},
	}
}

var bigIntCmp = cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range testMessages(t) {
		data, err := EncodeMessage(m)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		back, err := DecodeMessage(data)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if diff := cmp.Diff(m, back, bigIntCmp, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("%T round trip (-want +got):\n%s", m, diff)
		}
		// Every strict prefix is refused.
		for i := 0; i < len(data); i += max(1, len(data)/50) {
			if _, err := DecodeMessage(data[:i]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%T truncated to %d bytes: %v", m, i, err)
			}
		}
		if _, err := DecodeMessage(append(bytes.Clone(data), 0)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%T with a trailing byte: %v", m, err)
		}
	}
}

func TestMessageLimits(t *testing.T) {
	tooMany := make([]InvItem, MaxInvItems+1)
	for i := range tooMany {
		tooMany[i].Type = InvTx
	}
	for _, m := range []Message{
		InvMsg{Items: tooMany},
		GetHeadersMsg{Locator: make([]Hash, MaxLocatorHashes+1)},
		HeadersMsg{Headers: make([]Header, MaxHeadersPerMsg+1)},
		AddrMsg{Addrs: make([]string, MaxAddrsPerMsg+1)},
		AddrMsg{Addrs: []string{strings.Repeat("1", MaxAddrLen+1)}},
		VersionMsg{ListenAddr: strings.Repeat("1", MaxAddrLen+1)},
		VersionMsg{TotalWork: new(big.Int).Lsh(big.NewInt(1), 8*maxWorkBytes)},
		VersionMsg{TotalWork: big.NewInt(-1)},
		ProofMsg{Proof: MerkleProof{Path: make([]Hash, maxProofPath+1)}},
		nil,
	} {
		if _, err := EncodeMessage(m); !errors.Is(err, ErrMalformed) {
			t.Errorf("%T over a limit encoded: %v", m, err)
		}
	}
	// A decoder sees counts before data: an inv claiming MaxInvItems+1
	// items is refused without allocating for them.
	data, _ := EncodeMessage(InvMsg{Items: tooMany[:MaxInvItems]})
	data[1], data[2] = 0x81, 0x08 // uvarint 1025
	if _, err := DecodeMessage(data); !errors.Is(err, ErrMalformed) {
		t.Fatalf("count over the limit: %v", err)
	}
	for _, bad := range [][]byte{nil, {0}, {99}, {byte(msgInv), 1, 7}} {
		if _, err := DecodeMessage(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v", bad, err)
		}
	}
	if _, err := DecodeMessage(make([]byte, MaxMessageSize+1)); !errors.Is(err, ErrMalformed) {
		t.Fatal("oversized message decoded")
	}
}

func FuzzMessageDecode(f *testing.F) {
	for _, m := range testMessages(f) {
		data, err := EncodeMessage(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMessage(data)
		if err != nil {
			return
		}
		again, err := EncodeMessage(m)
		if err != nil {
			t.Fatalf("decoded %T does not re-encode: %v", m, err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("%T re-encodes differently:\n%x\n%x", m, data, again)
		}
	})
}

// FuzzVersionDecode fuzzes the handshake message, the first thing a node
// decodes from a stranger.
func FuzzVersionDecode(f *testing.F) {
	for _, m := range testMessages(f)[:2] {
		data, err := EncodeMessage(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[1:])
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		data := append([]byte{byte(msgVersion)}, payload...)
		m, err := DecodeMessage(data)
		if err != nil {
			return
		}
		v, ok := m.(VersionMsg)
		if !ok {
			t.Fatalf("a version payload decoded as %T", m)
		}
		if again, err := EncodeMessage(v); err != nil || !bytes.Equal(again, data) {
			t.Fatalf("version re-encodes differently: %v", err)
		}
	})
}
