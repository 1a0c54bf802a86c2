module github.com/nakachain/blockchain/e2e

go 1.26.0

require (
	github.com/chromedp/chromedp v0.23.0
	github.com/nakachain/blockchain v0.0.0
)

require (
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/nakachain/blockchain => ../
