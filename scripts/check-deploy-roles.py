"""Checks the trust boundary of deploy/github-oidc.yaml (run by `make cfn-lint`):
each GitHub role is trusted from its own GitHub environment only, holds no IAM
write but PassRole on its own CloudFormation service role, and no statement of
a dev resource names anything of prod (nor the other way round)."""
import json
import sys

from cfnlint.decode import decode

template, errors = decode("deploy/github-oidc.yaml")
if errors:
    sys.exit(f"cannot read deploy/github-oidc.yaml: {errors}")
resources = template["Resources"]
problems = []
IAM_WRITE = ("iam:Create", "iam:Put", "iam:Attach", "iam:UpdateAssumeRolePolicy", "iam:Delete", "iam:*", "*")

for env, other in (("dev", "prod"), ("prod", "dev")):
    cap = env.capitalize()
    role = resources[f"{cap}DeployRole"]["Properties"]
    for statement in role["AssumeRolePolicyDocument"]["Statement"]:
        subjects = json.dumps(statement.get("Condition", {}))
        if f":environment:{env}" not in subjects or "ref:refs" in subjects or f":environment:{other}" in subjects:
            problems.append(f"{cap}DeployRole must trust repo:<owner>/<repo>:environment:{env} only: {subjects}")
        if "StringLike" in statement.get("Condition", {}):
            problems.append(f"{cap}DeployRole trusts subjects by pattern (StringLike)")
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                if action.startswith(IAM_WRITE) or action == "*":
                    problems.append(f"{cap}DeployRole may {action}")
                if action == "iam:PassRole":
                    target = json.dumps(statement["Resource"])
                    passed_to = json.dumps(statement.get("Condition", {}))
                    if f"{cap}CloudFormationRole" not in target or "cloudformation.amazonaws.com" not in passed_to:
                        problems.append(f"{cap}DeployRole passes a role other than its service role: {target} {passed_to}")
    for logical_id, resource in resources.items():
        if logical_id.startswith(cap) and other in json.dumps(resource).replace(f"kiosk-{env}", ""):
            problems.append(f"{logical_id} (a {env} resource) names '{other}'")

if problems:
    sys.exit("deploy/github-oidc.yaml:\n  " + "\n  ".join(problems))
print("deploy roles: dev and prod apart, no IAM write in the GitHub roles")
