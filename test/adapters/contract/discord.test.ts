import { discordDriver } from './discord.driver.js';
import { adapterContract } from './suite.js';

adapterContract(discordDriver);
