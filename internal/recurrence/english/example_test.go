package english_test

import (
	"fmt"

	"github.com/latency-fabric/alf/internal/recurrence/english"
)

func ExampleParse() {
	rule, err := english.Parse("every 2 weeks on monday and friday at noon until 2026-12-31", "UTC")
	if err != nil {
		panic(err)
	}
	fmt.Println(string(rule))

	_, err = english.Parse("every day at 25:99", "UTC")
	fmt.Println(err)
	// Output:
	// {"rule":{"type":"weekly","interval":2,"daysOfWeek":[1,5],"time":{"type":"wall_time","hour":12,"minute":0,"timezone":"UTC"}},"endDate":"2026-12-31"}
	// time "at 25:99": hour 25 is not 0-23
}

func ExampleFormat() {
	rule, err := english.Parse("every weekday at 9am eastern for 10 times", "UTC")
	if err != nil {
		panic(err)
	}
	text, err := english.Format(rule)
	if err != nil {
		panic(err)
	}
	fmt.Println(text)
	// Output:
	// every weekday at 9am (ET), for 10 occurrences
}
