/**
 * The unobservability test's soak run (test/client/unobservability.test.ts, docs/privacy.md "The
 * unobservability test"): 25 epochs a period, about 5,000 gaps on the gateway link, the size at
 * which the gateway timing finds a 5 % shift with power 0.8 at the family's level (the test asserts
 * that power). `npm test` runs the same test with 6 epochs a period, sized for a 10 % shift.
 */
process.env.UMBRA_UNOBSERVABILITY_EPOCHS ??= '25';
await import('../client/unobservability.test.js');
