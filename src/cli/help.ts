import { MAX_HOPS_LIMIT, SUITE_NAMES } from '../sphinx/index.js';
import { WALK_HOPS, WALK_SUITE } from './sphinx-walk/defaults.js';

export const HELP = `umbra: metadata-private email over a Sphinx mix network

Usage:
  umbra sphinx-walk [options]       walk one Sphinx packet and its SURB reply through in-process
                                    mix nodes, showing what each node sees
  umbra keygen                      print fresh node keys (identity and link seeds) as JSON
  umbra up [--dir D] [--epoch-ms N] [--authorities N] [--fresh] [--fast] [--demo] [--web]
                                    run a whole network on loopback until Ctrl-C;
                                    --demo: Alice mails Bob across it, then it stops
                                    --web: the demo users' agents run with their web
                                    clients (URLs printed), until Ctrl-C;
                                    --authorities N: N voting authorities (default 1)
                                    runs the recommended parameters (500 ms mixing delays,
                                    1 packet/s per user) with 8 s epochs; --fast: 20 ms
                                    delays and 50 packets/s, for tests (it mixes little)
  umbra consensus (--dir D | --authority URL --authority-key KEY…) [--epoch N] [--json]
                                    what the authorities say of every node in one epoch:
                                    declared and measured bandwidth, score, below the floor
  umbra authority --config FILE     run a directory authority (docs/pki.md)
  umbra mix|gateway|provider --config FILE
                                    run one node (docs/nodes.md)
                                    both take --log-level debug|info|warn|error (default info);
                                    the log is JSON lines on stderr
  umbra client --dir C COMMAND      the user's agent (docs/client.md); the passphrase comes from
                                    UMBRA_PASSPHRASE or --passphrase-file FILE. While 'run' is
                                    active, the other commands go through its local API (docs/api.md).
      init --name N --authority URL --authority-key KEY [--server HOST:PORT] --mirror URL[#KEY] --mirror URL[#KEY] […]
      card | rotate-card [--grace-days N] | contact add URI | contact list [--json] | api (the API's URL and token)
      send --to NAME [--to NAME]… [--cc NAME]… [--bcc NAME]… --subject S (--body B | --body-file F) [--wait] [--timeout-ms N]
           (--to bob,carol works too; Bcc recipients are hidden from the others)
      resend N [--wait] [--timeout-ms N] (failed sent mail #N, again)
      inbox [--json] | sent [--json] | read N [--sent] [--json] (inbox mail #N; --sent: sent mail #N) | run [--api-port N] [--smtp-port N] [--imap-port N]
      status [--json] (the running agent's: connections, rates, loops, high alert)
      bridge [--show-password] (settings for a mail program: docs/bridge.md)
      relay set --host H [--port N] [--tls starttls|tls|none] [--user U --relay-password-file F] --from ADDRESS | relay show | relay clear
           (ordinary, NOT private email, only for a mail marked for it: docs/bridge.md)
  umbra sim [options]               simulate a deployment on simulated time and measure its privacy
                                    (docs/privacy.md); umbra sim report rewrites that page's tables
  umbra sim attack sda|n-1 [options]
                                    one attack on a simulated deployment: the disclosure attack's
                                    rounds, or n-1 success with and without loop-based detection
  umbra help                        show this help (also: umbra --help)
  umbra version                     print the version (also: umbra --version)

Options for sphinx-walk:
  --suite NAME      Sphinx cipher suite: ${SUITE_NAMES.join(' or ')} (default ${WALK_SUITE})
  --backend NAME    crypto backend: sodium or noble (default sodium)
  --hops N          mix nodes on the path, 1 to ${MAX_HOPS_LIMIT} (default ${WALK_HOPS})
  --seed N          derive all randomness from N, so runs repeat exactly (timings aside)
  --json            print one JSON object instead of tables

Options for sim:
  --preset NAME | --params FILE     parameters: umbra, katzenpost, loopix, testnet, seed-timed-pool,
                                    or a file holding an authority configuration or its "network"
  --users N  --duration-s N  --warmup-s N  --mails-per-day X  --contacts N  --zipf S
  --strategy exponential|threshold:N|pool:N:F|timed-pool:N:F:MS   --routing stratified|cascade
  --no-cover  --gateways N  --mixes-per-layer N  --providers N  --corrupt NAME,...
  --measure N  --seed N  --json
  --log-window-s N  keep only N s of the log from half of it before the warm-up's end, measure the
                    mail sent in its first half (bounded memory; packets outside it skip the
                    agenda: what makes hours of 10^5 users feasible)
Options for sim attack (besides those of sim):
  sda: --target-rate X (the target's mails per second, default 0.5)  --rounds N (default 300)
  n-1: --node guard|gateway-I|mix-L-I  --trials N  --attack-s N  --mix-loop-rate X
       --loss P (baseline loop loss, default 0.01)  --alpha A (default 1e-4)  --window-s N

Exit codes: 0 success, 1 a check failed, 2 bad command or option.
`;
