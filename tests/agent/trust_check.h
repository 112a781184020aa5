/*
 * trust_check.h: checks of what the agent takes from the vault (agent/trust.c) and
 * of its state files (agent/state.c), run by test_agent_adapters.
 */
#ifndef VV_TRUST_CHECK_H
#define VV_TRUST_CHECK_H

/* Run the checks in a fresh folder under work (removed again); one "PASS trust: NAME"
 * or "FAIL trust: NAME: why" line each. Adds to *checks and *failures. */
void trust_checks(const char *work, int *checks, int *failures);

#endif
