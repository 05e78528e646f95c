package results

import "github.com/flowlens/flowlens/pkg/flowschema"

// Names of the views over audit's and recommend's tables.
const (
	ViewAuditWouldBreak   = "audit_would_break"
	ViewAuditNewlyAllowed = "audit_newly_allowed"
	ViewRecommendProposed = "recommend_proposed_rules"
	ViewRecommendUnproven = "recommend_unproven_rules"
	auditGroupColumns     = `source_kind, source, source_name, destination_kind, destination, destination_name, service,
	records, orphaned_replies, packets, bytes, first_seen, last_seen, layer, resource, rule, cause, explanation,
	policy_file, policy_line, examples`
	recommendRuleColumns = `rule_type, resource_id, resource_name, direction, status, rule, basis, reason, peers,
	flows, packets, bytes, first_seen, last_seen, distinct_windows, example`
)

// AuditViews are the documented views over the audit_* tables: flowlens audit creates them with its tables
// (they exist in a file only once an audit ran on it). Each row is a group of records (source -> destination :
// service) as the audit report lists it.
func AuditViews() []View {
	group := func(class string) string {
		return `SELECT ` + auditGroupColumns + ` FROM ` + flowschema.AuditGroupsTable + `
WHERE class = '` + class + `' ORDER BY records DESC, bytes DESC, source, destination, service`
	}
	return []View{
		{Name: ViewAuditWouldBreak, Query: group("would-break"),
			Doc: "the last audit's would-break groups: traffic the log accepted that the candidate policy rejects, by source -> destination : service, with the layer, resource and rule that would reject it, the policy file and line (or Terraform address) to change, example records"},
		{Name: ViewAuditNewlyAllowed, Query: group("newly-allowed"),
			Doc: "the last audit's newly-allowed groups: traffic the current configuration rejected that the candidate policy admits, with the rule that now admits it"},
	}
}

// RecommendViews are the documented views over the recommend_* tables: flowlens recommend creates them
// with its tables.
func RecommendViews() []View {
	rules := func(where string) string {
		return `SELECT ` + recommendRuleColumns + ` FROM ` + flowschema.RecommendRulesTable + `
WHERE ` + where + ` ORDER BY rule_type DESC, resource_id, direction, flows DESC, rule`
	}
	return []View{
		{Name: ViewRecommendProposed, Query: rules(`status <> 'unproven'`),
			Doc: "the last recommendation's rules and NACL entries, each with why (basis, reason) and its evidence (flows, bytes, first and last seen, distinct days, an example record); status kept marks a direction kept for lack of evidence"},
		{Name: ViewRecommendUnproven, Query: rules(`status = 'unproven'`),
			Doc: "what the last recommendation left for a human: rules and entries below the evidence threshold, not in the proposal"},
	}
}

// AllViews lists every documented view: analyze's (Views(l)), then audit's and recommend's.
func AllViews(l FlowLayout) []View {
	return append(append(Views(l), AuditViews()...), RecommendViews()...)
}
