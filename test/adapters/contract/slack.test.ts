import { slackDriver } from './slack.driver.js';
import { adapterContract } from './suite.js';

adapterContract(slackDriver);
