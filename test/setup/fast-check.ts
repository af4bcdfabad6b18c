/**
 * Property tests run from one fixed seed, so CI is reproducible; set FC_SEED to explore
 * other inputs (`FC_SEED=$RANDOM npm test`), and a failure prints the seed to replay it.
 */
import fc from 'fast-check';

fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261125) });
