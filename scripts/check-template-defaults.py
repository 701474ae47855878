"""Checks that template.yaml gives no environment another's value by default
(run by `make cfn-lint`): a prod deploy that forgets an override must fail or
get prod's own value, never dev's.

- `Environment` has no default;
- no parameter default names an environment (`dev`, `prod`, `local`);
- `EnableWaf` defaults to "true";
- the token audience and issuer derive from the environment (`${Environment}`);
- the signing key's name is given or derives from the environment;
- samconfig.toml names each environment's own values."""
import json
import re
import sys
import tomllib

from cfnlint.decode import decode


def check(template, samconfig):
    problems = []
    parameters = template.get("Parameters", {})
    environments = parameters.get("Environment", {}).get("AllowedValues", [])
    if "Default" in parameters.get("Environment", {}):
        problems.append("parameter Environment has a default: a deploy must say which environment it is")
    names = set(environments) | {"local"}
    for name, parameter in parameters.items():
        default = str(parameter.get("Default", ""))
        for env in names:
            if re.search(rf"(^|[^a-z]){env}([^a-z]|$)", default):
                problems.append(f"parameter {name} defaults to {default!r}, an environment's own value ({env})")
    if parameters.get("EnableWaf", {}).get("Default") != "true":
        problems.append("parameter EnableWaf must default to \"true\" (an environment turns it off on purpose)")
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    for variable in ("JWT_AUDIENCE", "JWT_ISSUER"):
        if "${Environment}" not in json.dumps(variables.get(variable)):
            problems.append(f"{variable} must derive from the environment (!Sub ...${{Environment}}...)")
    for logical_id, resource in template.get("Resources", {}).items():
        env = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        secret = env.get("JWT_SECRET_ID")
        if secret is not None and "${Environment}" not in json.dumps(secret):
            problems.append(f"{logical_id}'s JWT_SECRET_ID must derive from the environment when not given")
    for env in environments:
        overrides = samconfig.get(env, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
        values = dict(pair.split("=", 1) for pair in overrides.split())
        if values.get("Environment") != env:
            problems.append(f"samconfig.toml [{env}] must deploy Environment={env}")
        for name, value in values.items():
            for other in names - {env}:
                if re.search(rf"(^|[^a-z]){other}([^a-z]|$)", value):
                    problems.append(f"samconfig.toml [{env}] gives {name} {other}'s value {value!r}")
    return problems


def main():
    template, errors = decode("template.yaml")
    if errors:
        sys.exit(f"cannot read template.yaml: {errors}")
    with open("samconfig.toml", "rb") as f:
        samconfig = tomllib.load(f)
    problems = check(template, samconfig)
    # The check itself is checked: a template with dev's old defaults must fail it.
    bad = json.loads(json.dumps(template))
    bad["Parameters"]["Environment"]["Default"] = "dev"
    bad["Parameters"]["EnableWaf"]["Default"] = "false"
    bad["Parameters"]["TokenSigningKeyName"]["Default"] = "kiosk/dev/token-signing-key"
    bad["Globals"]["Function"]["Environment"]["Variables"]["JWT_AUDIENCE"] = "kiosk-api"
    if len(check(bad, samconfig)) < 4:
        problems.append("the check no longer catches dev defaults (self-test failed)")
    if problems:
        sys.exit("template defaults:\n  " + "\n  ".join(problems))


main()
