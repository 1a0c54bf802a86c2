package main

import (
	"bytes"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/nakachain/blockchain"
)

func TestStatusLine(t *testing.T) {
	var out bytes.Buffer
	s := newStatusLine(&out, func() int { return 20 })
	s.Write([]byte("before\n"))
	s.set("height 1 · tip 0123456789ab · peers 2")
	s.Write([]byte("a log line\n"))
	s.clear()
	want := "before\n" + clearLine + "height 1 · tip 0123" + clearLine + "a log line\n" + "height 1 · tip 0123" + clearLine
	if got := out.String(); got != want {
		t.Errorf("terminal got\n%q\nwant\n%q", got, want)
	}
}

func TestStatusView(t *testing.T) {
	var v statusView
	start := time.Unix(1000, 0)
	tip := func(h uint64) blockchain.Tip { return blockchain.Tip{Height: h, TotalWork: big.NewInt(1)} }
	v.render(start, blockchain.Status{Tip: tip(1000), BestHeader: tip(10_000), Peers: 3, Mining: true})
	got := v.render(start.Add(2*time.Second), blockchain.Status{Tip: tip(3000), BestHeader: tip(10_000), Peers: 3,
		Mining: true, Hashes: 3_000_000, Mempool: 4})
	for _, want := range []string{"height 3,000", "peers 3", "mempool 4", "mining 1.50 MH/s", "syncing 30.0% (3,000 of 10,000 blocks, 1000 blocks/s)"} {
		if !strings.Contains(got, want) {
			t.Errorf("status %q lacks %q", got, want)
		}
	}
	got = v.render(start.Add(3*time.Second), blockchain.Status{Tip: tip(10_000), BestHeader: tip(10_000), Peers: 3})
	if !strings.HasSuffix(got, "not mining · synced") {
		t.Errorf("status %q: want not mining, synced", got)
	}
}
