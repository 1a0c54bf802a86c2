// Package e2e drives the node's web page in a real browser (Debian's
// headless chromium, through chromedp): wallets, payments between two
// nodes, the explorer, refusals. See the README in this directory.
package e2e
