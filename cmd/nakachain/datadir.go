package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nakachain/blockchain"
)

// defaultDataDir is the default -datadir, relative to the working
// directory.
const defaultDataDir = "./nakachain-data"

// The data directory's layout.
const (
	chainFileName = "chain.json"
	blocksDirName = "blocks"
	walletDirName = "wallets"
)

func blocksDir(datadir string) string  { return filepath.Join(datadir, blocksDirName) }
func walletsDir(datadir string) string { return filepath.Join(datadir, walletDirName) }

// chainRecord is DATADIR/chain.json: the chain the directory holds.
type chainRecord struct {
	ChainID blockchain.Hash   `json:"chain_id"`
	Params  blockchain.Params `json:"params"`
}

// readChainRecord reads DATADIR/chain.json; ok is false if there is none.
func readChainRecord(datadir string) (rec chainRecord, ok bool, err error) {
	file := filepath.Join(datadir, chainFileName)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return chainRecord{}, false, nil
	}
	if err != nil {
		return chainRecord{}, false, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return chainRecord{}, false, fmt.Errorf("%s: %w", file, err)
	}
	if err := rec.Params.Validate(); err != nil {
		return chainRecord{}, false, fmt.Errorf("%s: %w", file, err)
	}
	if id := rec.Params.ChainID(); id != rec.ChainID {
		return chainRecord{}, false, fmt.Errorf("%s: its params make chain %s, not the chain_id %s it records", file, id, rec.ChainID)
	}
	return rec, true, nil
}

// writeChainRecord writes DATADIR/chain.json for params.
func writeChainRecord(datadir string, params blockchain.Params) error {
	data, err := json.MarshalIndent(chainRecord{ChainID: params.ChainID(), Params: params}, "", "  ")
	if err != nil {
		return err
	}
	if err := replaceFile(filepath.Join(datadir, chainFileName), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("recording the chain in the data directory: %w", err)
	}
	return nil
}

// networkFlags choose the chain: -network or -params.
type networkFlags struct {
	network, paramsFile string
}

func (n *networkFlags) register(fl *flagSet) {
	fl.StringVar(&n.network, "network", "",
		"the chain `NAME`: main (DefaultParams: a block a minute, 24 zero bits to start) or test "+
			"(TestParams: 8 zero bits, a block a second, for trying things out); "+
			"none means the chain the data directory holds, or main for a new one")
	fl.StringVar(&n.paramsFile, "params", "",
		"the chain's consensus params, from a JSON `FILE` (the format of blockchain.Params' MarshalJSON, "+
			"as in DATADIR/chain.json), instead of -network")
}

func (n *networkFlags) check(fl *flagSet) error {
	switch {
	case n.network != "" && n.paramsFile != "":
		return fl.usageErrorf("give -network or -params, not both")
	case n.network != "" && n.network != "main" && n.network != "test":
		return fl.usageErrorf("-network %q: use main or test", n.network)
	}
	return nil
}

// named returns the params the flags name, and how they were named; ok is
// false if they name none.
func (n *networkFlags) named() (p blockchain.Params, how string, ok bool, err error) {
	switch {
	case n.network == "main":
		return blockchain.DefaultParams(), "-network main", true, nil
	case n.network == "test":
		return blockchain.TestParams(), "-network test", true, nil
	case n.paramsFile != "":
		data, err := os.ReadFile(n.paramsFile)
		if err != nil {
			return p, "", false, fmt.Errorf("reading the params: %w", err)
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return p, "", false, fmt.Errorf("params file %s: %w", n.paramsFile, err)
		}
		if err := p.Validate(); err != nil {
			return p, "", false, fmt.Errorf("params file %s: %w", n.paramsFile, err)
		}
		return p, "-params " + n.paramsFile, true, nil
	}
	return p, "", false, nil
}

// chooseChain returns the params of the node's chain: those the flags
// name, which must be the chain the data directory holds if it holds one;
// or else the directory's; or else the main network's. record reports
// that the directory holds no chain yet: the caller records it once it
// owns the directory.
func chooseChain(datadir string, n *networkFlags) (params blockchain.Params, record bool, err error) {
	rec, have, err := readChainRecord(datadir)
	if err != nil {
		return params, false, err
	}
	params, how, named, err := n.named()
	if err != nil {
		return params, false, err
	}
	switch {
	case named && have && params.ChainID() != rec.ChainID:
		return params, false, fmt.Errorf("data directory %s holds chain %s (%q), not chain %s (%q) of %s: "+
			"run it %s, or use another -datadir",
			datadir, rec.ChainID.Short(16), rec.Params.Name, params.ChainID().Short(16), params.Name, how, flagsFor(rec))
	case have:
		if !named {
			params = rec.Params
		}
		return params, false, nil
	case !named:
		params = blockchain.DefaultParams()
	}
	return params, true, nil
}

// flagsFor says how to name the chain rec records.
func flagsFor(rec chainRecord) string {
	switch rec.ChainID {
	case blockchain.DefaultParams().ChainID():
		return "with -network main or without -network and -params"
	case blockchain.TestParams().ChainID():
		return "with -network test or without -network and -params"
	}
	return "without -network and -params"
}
