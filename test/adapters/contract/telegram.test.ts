import { telegramDriver } from './telegram.driver.js';
import { adapterContract } from './suite.js';

adapterContract(telegramDriver);
