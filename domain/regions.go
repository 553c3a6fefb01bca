package domain

// genesysRegions is the allowlist of Genesys Cloud region domains. Storing a
// domain from this list only keeps credentials from being sent to other hosts.
var genesysRegions = map[string]string{
	"mypurecloud.com":        "us_east_1",
	"use2.us-gov-pure.cloud": "us_east_2",
	"usw2.pure.cloud":        "us_west_2",
	"cac1.pure.cloud":        "ca_central_1",
	"sae1.pure.cloud":        "sa_east_1",
	"mxc1.pure.cloud":        "mx_central_1",
	"mypurecloud.ie":         "eu_west_1",
	"euw2.pure.cloud":        "eu_west_2",
	"mypurecloud.de":         "eu_central_1",
	"euc2.pure.cloud":        "eu_central_2",
	"mec1.pure.cloud":        "me_central_1",
	"aps1.pure.cloud":        "ap_south_1",
	"mypurecloud.jp":         "ap_northeast_1",
	"apne2.pure.cloud":       "ap_northeast_2",
	"apne3.pure.cloud":       "ap_northeast_3",
	"apse1.pure.cloud":       "ap_southeast_1",
	"mypurecloud.com.au":     "ap_southeast_2",
}

// IsGenesysRegion reports whether domain is a known Genesys Cloud region domain.
func IsGenesysRegion(domain string) bool {
	_, ok := genesysRegions[domain]
	return ok
}
